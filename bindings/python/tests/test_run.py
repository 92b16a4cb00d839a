import threading
import unittest

import routeright
from routeright import (Abort, CallbackError, ModelResult, Retriable, Router, StateError,
                        ToolResult)

from support import FAQ, TICKET

ANSWER = ("To reset your password, open Settings, choose Security and click Reset "
          "password [kb-12].")
HAS_RUN = routeright.has("rr_run")


def request(q):
    return {"text": q["text"], "attrs": q.get("attrs", {}),
            "evidence": [{"id": i, "text": t, "score": s} for i, t, s in q.get("evidence", [])]}


@unittest.skipUnless(HAS_RUN, "the library has no rr_run")
class RunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.router = Router.default()

    @classmethod
    def tearDownClass(cls):
        cls.router.close()

    def test_run_passes_the_route_contract_and_records_usage(self):
        calls, events = [], []

        def call_model(c):
            calls.append(c)
            return ModelResult(ANSWER, input_tokens=120, output_tokens=30, latency_ms=12)
        o = self.router.run(request(FAQ), call_model=call_model,
                            on_event=lambda e: events.append(e["event"]))
        first = calls[0]
        self.assertEqual((first.attempt, first.route, first.model), (1, "small_rag_v2", "small"))
        self.assertEqual(first.text, FAQ["text"])
        self.assertEqual(first.previous_failure, "")
        self.assertEqual(o.attempts[0].input_tokens, 120)
        self.assertEqual(o.attempts[0].route, "small_rag_v2")
        self.assertEqual(events[0], "decision")
        self.assertEqual(events[-1], "outcome")
        self.assertEqual(o.trace["route"], o.route)
        if o.kind == "answer":
            self.assertEqual(o.text, ANSWER)

    def test_exception_in_call_model_becomes_model_error_and_the_run_goes_on(self):
        def call_model(c):
            if c.attempt == 1:
                raise RuntimeError("model client exploded")
            self.assertEqual(c.previous_failure, "model_error")
            return ANSWER
        o = self.router.run(request(FAQ), call_model=call_model)
        self.assertEqual((o.attempts[0].status, o.attempts[0].failure), ("error", "model_error"))
        self.assertGreaterEqual(len(o.attempts), 2)
        [f] = o.callback_errors
        self.assertEqual((f.callback, f.attempt, f.route), ("call_model", 1, "small_rag_v2"))
        self.assertIsInstance(f.error, RuntimeError)
        self.assertIn("model_error", o.trace_json)

    def test_bad_return_type_is_a_model_error_not_a_crash(self):
        o = self.router.run(request(FAQ), call_model=lambda c: 42 if c.attempt == 1 else ANSWER)
        self.assertEqual(o.attempts[0].failure, "model_error")
        self.assertIsInstance(o.callback_errors[0].error, TypeError)

    def test_retriable_and_timeout_exceptions_set_the_call_status(self):
        for exc, status in ((Retriable("429"), "retriable"), (TimeoutError("slow"), "timeout")):
            def call_model(c, exc=exc):
                if c.attempt == 1:
                    raise exc
                return ANSWER
            o = self.router.run(request(FAQ), call_model=call_model)
            self.assertEqual(o.attempts[0].status, status)

    def test_abort_stops_the_run_with_callback_error(self):
        calls = []

        def call_model(c):
            calls.append(c.attempt)
            raise Abort("operator said stop")
        with self.assertRaises(CallbackError) as cm:
            self.router.run(request(FAQ), call_model=call_model)
        self.assertEqual(cm.exception.name, "EABORT")
        self.assertIsInstance(cm.exception.__cause__, Abort)
        self.assertEqual(calls, [1])

    def test_keyboard_interrupt_in_a_callback_is_re_raised_after_c_returns(self):
        def call_model(c):
            raise KeyboardInterrupt
        with self.assertRaises(KeyboardInterrupt):
            self.router.run(request(FAQ), call_model=call_model)
        # The router is intact afterwards.
        self.assertEqual(self.router.route(**FAQ).route, "small_rag_v2")

    def test_failing_event_handler_is_reported_and_does_not_stop_the_run(self):
        def on_event(e):
            raise ValueError("logging backend down")
        o = self.router.run(request(FAQ), call_model=lambda c: ANSWER, on_event=on_event)
        self.assertTrue(o.attempts)
        self.assertTrue(all(f.callback == "on_event" for f in o.callback_errors))
        self.assertTrue(o.callback_errors)

    def test_tool_outputs_reach_the_model_call(self):
        seen = []

        def call_model(c):
            seen.append(c.tool_results)
            return "Please sign in again; I reset your SSO session."
        self.router.run(request(TICKET), call_model=call_model,
                        call_tool=lambda t: ToolResult("tool:" + t.tool, latency_ms=1))
        self.assertEqual(seen[0]["crm"], "tool:crm")

    def test_exception_in_call_tool_becomes_tool_error(self):
        def call_tool(t):
            raise ConnectionError("crm down")
        o = self.router.run(request(TICKET), call_model=lambda c: "ok", call_tool=call_tool)
        self.assertEqual(o.attempts[0].failure, "tool_error")
        self.assertEqual(o.callback_errors[0].callback, "call_tool")

    def test_runs_from_many_threads_at_once(self):
        errors = []

        def work(k):
            try:
                for i in range(30):
                    def call_model(c, i=i):
                        if (k + i) % 3 == 0 and c.attempt == 1:
                            raise RuntimeError("flaky")
                        return ANSWER
                    o = self.router.run(request(FAQ), call_model=call_model)
                    if not o.attempts:
                        errors.append("no attempts")
            except Exception as e:  # reported below
                errors.append(e)
        ts = [threading.Thread(target=work, args=(k,)) for k in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])

    def test_text_request_with_keyword_attributes(self):
        o = self.router.run(FAQ["text"], call_model=lambda c: ANSWER, attrs=FAQ["attrs"],
                            evidence=FAQ["evidence"])
        self.assertEqual(o.attempts[0].route, "small_rag_v2")

    def test_call_model_must_be_callable(self):
        with self.assertRaises(TypeError):
            self.router.run("hi", call_model=None)  # type: ignore[arg-type]


@unittest.skipUnless(routeright.has("rr_validate", "rr_escalate"), "no rr_validate")
class ValidateEscalateTest(unittest.TestCase):
    def test_validate_gives_a_verdict_for_the_decided_route(self):
        with Router.default() as r:
            d = r.route(**FAQ)
            v = r.validate(d, ANSWER, request=request(FAQ))
            self.assertEqual(v.passed, v.failure == "")
            self.assertEqual(v.record["passed"], v.passed)

    def test_escalate_model_error_follows_the_policy_ladder(self):
        with Router.default() as r:
            d = r.route(**FAQ)
            self.assertEqual(d.attempt, 1)
            d.add_usage(100, 20, 350.0)
            n = r.escalate(d, "model_error")
            self.assertEqual(n.route, d.escalation["model_error"])
            self.assertEqual(n.attempt, 2)
            self.assertGreater(n.total_cost_usd, 0)

    def test_escalate_with_unknown_failure_is_invalid(self):
        with Router.default() as r:
            with self.assertRaises(routeright.InvalidArgumentError):
                r.escalate(r.route(**FAQ), "gremlins")

    def test_validate_after_close_is_a_state_error(self):
        r = Router.default()
        d = r.route(**FAQ)
        r.close()
        with self.assertRaises(StateError):
            r.validate(d, ANSWER)


@unittest.skipUnless(routeright.has("rr_schema_new"), "no rr_schema_new")
class SchemaTest(unittest.TestCase):
    def test_schema_findings_name_keyword_and_location(self):
        with routeright.Schema({"type": "object", "required": ["id"],
                                "properties": {"id": {"type": "integer"}}}) as s:
            ok = s.validate({"id": 3})
            self.assertTrue(ok.passed)
            bad = s.validate('{"id": "x"}')
            self.assertFalse(bad.passed)
            self.assertEqual(bad.failure, "schema")
            self.assertEqual(bad.findings[0].code, "type")
            self.assertEqual(bad.findings[0].instance_location, "/id")
            trunc = s.validate('{"id": 3')
            self.assertEqual(trunc.failure, "truncated")

    def test_registry_resolves_remote_refs(self):
        with routeright.Schema({"properties": {"id": {"$ref": "https://example.com/id.json"}}},
                               registry={"https://example.com/id.json": {"type": "integer"}}) as s:
            self.assertFalse(s.validate({"id": "x"}).passed)
            self.assertTrue(s.validate({"id": 1}).passed)
        with self.assertRaises(routeright.SchemaError):
            routeright.Schema({"$ref": "https://example.com/none.json"})

    def test_invalid_schema_is_a_schema_error(self):
        with self.assertRaises(routeright.SchemaError) as cm:
            routeright.Schema({"type": 12})
        self.assertEqual(cm.exception.name, "ESCHEMA")


if __name__ == "__main__":
    unittest.main()
