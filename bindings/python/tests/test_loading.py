import os
import shutil
import subprocess
import sys
import unittest

import support  # noqa: F401  (absolute ROUTERIGHT_LIBRARY)

PKG = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def run_import(env_changes):
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return subprocess.run([sys.executable, "-c", "import routeright, sys; "
                           "sys.stdout.write(routeright.library_path)"],
                          env=env, capture_output=True, text=True, timeout=60)


class LoadingTest(unittest.TestCase):
    def test_bad_routeright_library_fails_naming_the_path(self):
        p = run_import({"ROUTERIGHT_LIBRARY": "/nonexistent/librouteright.so"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ROUTERIGHT_LIBRARY", p.stderr)
        self.assertIn("/nonexistent/librouteright.so", p.stderr)

    def test_nothing_found_lists_everything_tried(self):
        p = run_import({"ROUTERIGHT_LIBRARY": None, "PKG_CONFIG_PATH": "/nonexistent",
                        "PKG_CONFIG_LIBDIR": "/nonexistent", "LD_LIBRARY_PATH": "/nonexistent"})
        if p.returncode == 0:
            self.skipTest("librouteright is installed system-wide: " + p.stdout)
        for what in ("ROUTERIGHT_LIBRARY: not set", "pkg-config", "find_library",
                     "system loader"):
            self.assertIn(what, p.stderr)

    @unittest.skipUnless(shutil.which("pkg-config"), "needs pkg-config")
    def test_found_through_pkg_config_without_the_variable(self):
        lib = os.environ.get("ROUTERIGHT_LIBRARY", "")
        pcdir = os.path.join(os.path.dirname(lib), "meson-uninstalled")
        if not os.path.exists(os.path.join(pcdir, "routeright-uninstalled.pc")):
            self.skipTest("no meson-uninstalled routeright.pc beside ROUTERIGHT_LIBRARY")
        p = run_import({"ROUTERIGHT_LIBRARY": None, "PKG_CONFIG_PATH": pcdir})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(os.path.realpath(os.path.dirname(p.stdout)),
                         os.path.realpath(os.path.dirname(lib)))


if __name__ == "__main__":
    unittest.main()
