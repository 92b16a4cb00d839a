import ctypes
import json
import os
import tempfile
import unittest

from routeright import (InvalidArgumentError, LimitError, PolicyError, RequestError, Router,
                        RouteRightError, RouteRightIOError)
from routeright._lib import RRError, lib

from support import TINY_POLICY, tiny_policy_text


class ErrorLayoutTest(unittest.TestCase):
    def test_rr_error_mirror_has_the_c_layout(self):
        # routeright.h: six 32-bit fields, pointer[256], message[512], reserved[64].
        self.assertEqual(ctypes.sizeof(RRError), 24 + 256 + 512 + 64)
        self.assertEqual(RRError.version.offset, 0)
        self.assertEqual(RRError.code.offset, 4)
        self.assertEqual(RRError.line.offset, 8)
        self.assertEqual(RRError.column.offset, 12)
        self.assertEqual(RRError.expr_column.offset, 16)
        self.assertEqual(RRError.pointer.offset, 24)
        self.assertEqual(RRError.message.offset, 280)
        self.assertEqual(RRError.reserved.offset, 792)

    def test_rr_error_init_sets_the_version_field_we_mirror(self):
        e = RRError()
        e.code = 99
        self.assertEqual(lib.rr_error_init(ctypes.byref(e), 1), 0)
        self.assertEqual((e.version, e.code), (1, 0))
        self.assertEqual(lib.rr_error_init(ctypes.byref(e), 999), -1)


class PolicyErrorTest(unittest.TestCase):
    def test_malformed_json_gives_line_and_column(self):
        with self.assertRaises(PolicyError) as cm:
            Router('{\n  "policy": "x",\n  "version": 1,,\n}')
        e = cm.exception
        self.assertEqual((e.code, e.name), (-4, "EJSON"))
        self.assertEqual(e.line, 3)
        self.assertGreater(e.column, 0)
        self.assertIn("line 3", str(e))

    def test_unknown_key_names_its_pointer_and_position(self):
        text = tiny_policy_text(bogus=1)
        with self.assertRaises(PolicyError) as cm:
            Router(text)
        e = cm.exception
        self.assertEqual(e.name, "EPOLICY")
        self.assertEqual(e.pointer, "/bogus")
        lines = text.splitlines()
        self.assertIn('"bogus"', lines[e.line - 1])

    def test_bad_expression_gives_the_column_inside_it(self):
        p = json.loads(json.dumps(TINY_POLICY))
        p["rules"][1]["when"] = "score > > 5"
        with self.assertRaises(PolicyError) as cm:
            Router(p)
        e = cm.exception
        self.assertEqual(e.name, "EEXPR")
        self.assertEqual(e.pointer, "/rules/1/when")
        self.assertEqual(e.expr_column, 9)

    def test_bad_regex_is_a_policy_error(self):
        p = json.loads(json.dumps(TINY_POLICY))
        p["patterns"] = {"bad": ["(unclosed"]}
        p["rules"][0]["when"] = "vip || match.bad"
        with self.assertRaises(PolicyError) as cm:
            Router(p)
        self.assertEqual(cm.exception.name, "EREGEX")
        self.assertTrue(cm.exception.pointer.startswith("/patterns/bad"))

    def test_missing_file_is_an_io_error(self):
        with self.assertRaises(RouteRightIOError) as cm:
            Router(os.path.join(tempfile.gettempdir(), "no-such-policy-dir", "p.json"))
        self.assertEqual(cm.exception.name, "EIO")
        self.assertIsInstance(cm.exception, OSError)

    def test_wrong_policy_type_is_a_type_error(self):
        with self.assertRaises(TypeError):
            Router(42)  # type: ignore[arg-type]


class RequestErrorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.router = Router(TINY_POLICY, max_text_bytes=64)

    @classmethod
    def tearDownClass(cls):
        cls.router.close()

    def test_invalid_utf8_text_is_a_request_error(self):
        with self.assertRaises(RequestError) as cm:
            self.router.route(b"bad \xff byte")
        self.assertEqual(cm.exception.name, "EUTF8")

    def test_lone_surrogate_is_a_request_error_not_a_crash(self):
        with self.assertRaises(RequestError):
            self.router.route("bad \ud800")

    def test_text_over_the_limit_is_a_limit_error(self):
        with self.assertRaises(LimitError) as cm:
            self.router.route("x" * 65)
        self.assertEqual(cm.exception.name, "ETOOBIG")
        self.router.route("x" * 64)

    def test_nan_attribute_is_rejected(self):
        with self.assertRaises(RequestError) as cm:
            self.router.route("x", attrs={"score": float("nan")})
        self.assertIn("score", str(cm.exception))

    def test_unsupported_attribute_type_is_a_type_error(self):
        with self.assertRaises(TypeError):
            self.router.route("x", attrs={"score": [1]})

    def test_nul_in_attribute_name_is_rejected(self):
        with self.assertRaises(RequestError):
            self.router.route("x", attrs={"vi\x00p": True})

    def test_request_json_with_unknown_key_names_the_pointer(self):
        with self.assertRaises(RequestError) as cm:
            self.router.route_json('{"text": "x", "color": "red"}')
        self.assertEqual(cm.exception.name, "EJSON")
        self.assertIn("color", cm.exception.message)

    def test_errors_are_route_right_errors_and_the_router_still_works(self):
        with self.assertRaises(RouteRightError):
            self.router.route(b"\xc3")
        self.assertEqual(self.router.route("x", attrs={"vip": True}).rule, "vip")

    def test_invalid_argument_is_also_a_value_error(self):
        self.assertTrue(issubclass(InvalidArgumentError, ValueError))


if __name__ == "__main__":
    unittest.main()
