"""A minimal PEP 517 / PEP 660 build backend for the pure-Python `routeright` package.

It writes a py3-none-any wheel (or an sdist) from routeright/ with the standard library
only, so installing works offline and without setuptools.
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = "routeright"


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        raw = f.read()
    try:
        import tomllib  # Python 3.11+
        return tomllib.loads(raw.decode())["project"]
    except ImportError:
        text = raw.decode().split("[project]", 1)[1]
        get = lambda k: re.search(r'^%s\s*=\s*"([^"]*)"' % k, text, re.M).group(1)
        return {"name": get("name"), "version": get("version"),
                "description": get("description"), "requires-python": get("requires-python")}


def _metadata(p):
    lines = ["Metadata-Version: 2.1", f"Name: {p['name']}", f"Version: {p['version']}",
             f"Summary: {p.get('description', '')}",
             f"Requires-Python: {p.get('requires-python', '>=3.8')}", "License: MIT"]
    lines += [f"Classifier: {c}" for c in p.get("classifiers", [])]
    return "\n".join(lines) + "\n"


def _sources():
    out = []
    for dirpath, dirs, files in os.walk(os.path.join(ROOT, PKG)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py") or f == "py.typed":
                full = os.path.join(dirpath, f)
                out.append((os.path.relpath(full, ROOT).replace(os.sep, "/"), full))
    return out


def _digest(data):
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={h},{len(data)}"


def _wheel(wheel_directory, entries):
    p = _project()
    name, ver = p["name"], p["version"]
    di = f"{name}-{ver}.dist-info"
    entries = list(entries) + [
        (f"{di}/METADATA", _metadata(p).encode()),
        (f"{di}/WHEEL", b"Wheel-Version: 1.0\nGenerator: rr_build\nRoot-Is-Purelib: true\n"
                        b"Tag: py3-none-any\n"),
        (f"{di}/top_level.txt", f"{PKG}\n".encode()),
    ]
    record = "".join(f"{path},{_digest(data)}\n" for path, data in entries) + f"{di}/RECORD,,\n"
    fname = f"{name}-{ver}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, fname), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in entries:
            z.writestr(path, data)
        z.writestr(f"{di}/RECORD", record)
    return fname


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    entries = []
    for rel, full in _sources():
        with open(full, "rb") as f:
            entries.append((rel, f.read()))
    return _wheel(wheel_directory, entries)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, [(f"_{PKG}_editable.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    p = _project()
    base = f"{p['name']}-{p['version']}"
    fname = base + ".tar.gz"
    files = [("pyproject.toml", os.path.join(ROOT, "pyproject.toml")),
             ("_build/rr_build.py", os.path.abspath(__file__))] + _sources()
    with tarfile.open(os.path.join(sdist_directory, fname), "w:gz") as t:
        for rel, full in files:
            t.add(full, arcname=f"{base}/{rel}")
        info = _metadata(p).encode()
        ti = tarfile.TarInfo(f"{base}/PKG-INFO")
        ti.size = len(info)
        t.addfile(ti, io.BytesIO(info))
    return fname
