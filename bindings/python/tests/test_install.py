import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import support  # noqa: F401  (absolute ROUTERIGHT_LIBRARY)

PKG = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def venv_with_pip_available() -> bool:
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError:
        return False
    return True


@unittest.skipUnless(venv_with_pip_available(), "needs venv and ensurepip (python3-venv)")
@unittest.skipIf(os.environ.get("RR_SANITIZED"), "pip under a preloaded ASan runtime: slow")
class InstallTest(unittest.TestCase):
    def test_pip_installs_the_package_offline_and_it_routes(self):
        with tempfile.TemporaryDirectory() as tmp:
            env_dir = os.path.join(tmp, "venv")
            p = subprocess.run([sys.executable, "-m", "venv", env_dir], capture_output=True,
                               text=True, timeout=300)
            if p.returncode != 0 and "ensurepip" in p.stdout + p.stderr:
                # Debian's python3 without python3-venv: nothing to test pip with.
                self.skipTest("venv cannot bootstrap pip here (install python3-venv)")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            py = os.path.join(env_dir, "bin", "python")
            # A copy, so the build writes nothing into the source tree.
            src = shutil.copytree(PKG, os.path.join(tmp, "src"),
                                  ignore=shutil.ignore_patterns("__pycache__", "tests"))
            env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
            env.pop("PYTHONPATH", None)
            p = subprocess.run([py, "-m", "pip", "install", "--no-index", src], env=env,
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            code = ("import routeright, os; r = routeright.Router.default(); "
                    "d = r.route('How do I reset my password?'); print(d.task); "
                    "import importlib.resources as ir; "
                    "print(os.path.exists(os.path.join(os.path.dirname(routeright.__file__), 'py.typed')))")
            p = subprocess.run([py, "-c", code], env=env, capture_output=True, text=True,
                               timeout=120, cwd=tmp)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.split(), ["faq", "True"])


if __name__ == "__main__":
    unittest.main()
