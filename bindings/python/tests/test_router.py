import json
import os
import pathlib
import tempfile
import threading
import unittest

import routeright
from routeright import Decision, Router, StateError

from support import FAQ, REFUND, SUPPORT_POLICY, TICKET, TINY_POLICY, tiny_policy_text


class RouterBuildTest(unittest.TestCase):
    def test_default_router_names_the_support_policy(self):
        with Router.default() as r:
            self.assertEqual(r.policy_name, "support_copilot")
            self.assertEqual(r.policy_version, "1")
            self.assertRegex(r.fingerprint, r"^[0-9a-f]{16}$")

    def test_policy_from_path_str_pathlike_text_and_dict_give_one_fingerprint(self):
        text = pathlib.Path(SUPPORT_POLICY).read_text()
        sources = [SUPPORT_POLICY, pathlib.Path(SUPPORT_POLICY), text, text.encode(),
                   json.loads(text)]
        prints = set()
        for src in sources:
            with Router(src) as r:
                prints.add(r.fingerprint)
        with Router.default() as r:
            prints.add(r.fingerprint)
        self.assertEqual(len(prints), 1, prints)

    def test_report_lists_a_ladder_per_route(self):
        with Router(TINY_POLICY) as r:
            rep = r.report()
        self.assertIn("warnings", rep)
        self.assertEqual(sorted(l["route"] for l in rep["ladders"]), ["fast", "slow"])

    def test_default_policy_document_is_the_shipped_example(self):
        with open(SUPPORT_POLICY) as f:
            self.assertEqual(Router.default_policy(), json.load(f))

    def test_library_version_matches_package(self):
        self.assertEqual(routeright.library_version(), routeright.__version__)


class RouteTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.router = Router.default()

    @classmethod
    def tearDownClass(cls):
        cls.router.close()

    def test_faq_with_strong_evidence_takes_the_small_rag_route(self):
        d = self.router.route(**FAQ)
        self.assertIsInstance(d, Decision)
        self.assertEqual((d.route, d.kind, d.model, d.prompt), ("small_rag_v2", "model", "small", "faq_v2"))
        self.assertEqual(d.route_version, "2")
        self.assertEqual(d.output_mode, "text")
        self.assertEqual(d.tools, ["retrieval"])
        self.assertEqual(d.context_tokens, 2000)
        self.assertEqual(d.validators, ["grounding"])
        self.assertEqual(d.escalation["grounding"], "premium_rag_v1")
        self.assertEqual(d.escalation["denied"], "medium_rag_v1")
        self.assertEqual((d.task, d.rule), ("faq", "faq_easy"))
        self.assertIn("small_rag_v2", d.reason)
        self.assertGreater(d.route_ns, 0)

    def test_record_is_the_json_record_and_agrees_with_attributes(self):
        d = self.router.route(**FAQ)
        rec = d.record
        self.assertEqual(json.loads(d.record_json), rec)
        self.assertEqual(rec["route_ns"], d.route_ns)
        flat = json.dumps(rec)
        for value in (d.route, d.model, d.prompt, d.reason, "support_copilot"):
            self.assertIn(json.dumps(value), flat)

    def test_regulated_terms_never_reach_the_small_model(self):
        d = self.router.route(**REFUND)
        self.assertEqual(d.task, "draft_policy")
        self.assertNotEqual(d.model, "small")

    def test_decision_survives_later_routes_on_the_same_thread(self):
        a = self.router.route(**FAQ)
        snapshot = (a.route, a.reason, a.record_json)
        b = self.router.route(**TICKET)
        self.assertNotEqual(b.route, a.route)
        self.assertEqual((a.route, a.reason, a.record_json), snapshot)

    def test_evidence_accepts_dicts_as_well_as_tuples(self):
        ev = [{"id": i, "text": t, "score": s} for i, t, s in FAQ["evidence"]]
        d1 = self.router.route(FAQ["text"], attrs=FAQ["attrs"], evidence=ev)
        d2 = self.router.route(**FAQ)
        self.assertEqual(d1.record["features"], d2.record["features"])
        self.assertEqual(d1.reason, d2.reason)

    def test_route_json_agrees_with_route(self):
        req = {"text": FAQ["text"], "attrs": FAQ["attrs"],
               "evidence": [{"id": i, "text": t, "score": s} for i, t, s in FAQ["evidence"]],
               "conversation_id": "c-1"}
        a = self.router.route_json(req)
        b = self.router.route(FAQ["text"], attrs=FAQ["attrs"], evidence=FAQ["evidence"],
                              conversation_id="c-1")
        mask = lambda d: {k: v for k, v in d.record.items() if k != "route_ns"}
        self.assertEqual(mask(a), mask(b))

    def test_conversation_id_reaches_the_features(self):
        with_id = self.router.route("hello there", conversation_id="conv-42")
        without = self.router.route("hello there")
        self.assertIs(with_id.record["features"]["conversation.present"], True)
        self.assertIs(without.record["features"]["conversation.present"], False)

    def test_bytes_text_routes_like_str(self):
        a = self.router.route(TICKET["text"].encode(), attrs=TICKET["attrs"])
        b = self.router.route(**TICKET)
        self.assertEqual(a.reason, b.reason)

    def test_numeric_and_bool_attributes_reach_conditions(self):
        with Router(TINY_POLICY) as r:
            self.assertEqual(r.route("x", attrs={"vip": True}).rule, "vip")
            self.assertEqual(r.route("x", attrs={"vip": False, "score": 6}).rule, "scored")
            self.assertEqual(r.route("x", attrs={"score": 5.0}).rule, "rest")
            d = r.route("x")
            self.assertEqual((d.kind, d.message, d.route_version), ("defer", "later", "1"))

    def test_features_hide_pii_values_but_give_spans(self):
        text = "Mail me at jane.doe@example.com please"
        f = self.router.features(text, spans=True)
        self.assertNotIn("jane.doe", json.dumps(f))
        spans = f["pii_spans"]
        self.assertTrue(spans)
        self.assertEqual(text[spans[0]["start"]:spans[0]["end"]], "jane.doe@example.com")


class LifetimeTest(unittest.TestCase):
    def test_decisions_stay_readable_after_close(self):
        r = Router.default()
        unread = r.route(**FAQ)          # nothing read yet: close() must copy it out
        half = r.route(**REFUND)
        half_model = half.model         # fields read, record not yet
        r.close()
        self.assertEqual(unread.route, "small_rag_v2")
        self.assertEqual(unread.record["route"]["id"], "small_rag_v2")
        self.assertEqual(half.model, half_model)
        self.assertEqual(half.record["gen_ai.request.model"], half_model)

    def test_a_routing_loop_reuses_its_c_objects(self):
        # After warm-up no rr_request or rr_decision is created: the same few C objects
        # serve every call (two decisions, since the previous one is alive during a call).
        with Router.default() as r:
            seen = set()
            for i in range(1000):
                d = r.route(**(FAQ if i % 2 else TICKET))
                seen.add(d._d)
                d.record_json
            self.assertLessEqual(len(seen), 2)
            self.assertEqual(len(r._scratches), 1)

    def test_dropped_decisions_are_reused_not_leaked(self):
        with Router(TINY_POLICY) as r:
            for _ in range(200):
                r.route("x").record_json
            # In a loop the previous decision is alive during the next call: two suffice.
            self.assertLessEqual(len(r._pool), 2)
            keep = [r.route("x") for _ in range(100)]
            del keep
            self.assertLessEqual(len(r._pool), 64)

    def test_close_is_idempotent_and_later_calls_raise_state_error(self):
        r = Router(TINY_POLICY)
        r.route("x")
        r.close()
        r.close()
        self.assertTrue(r.closed)
        with self.assertRaises(StateError) as cm:
            r.route("x")
        self.assertEqual(cm.exception.name, "ESTATE")

    def test_context_manager_closes(self):
        with Router(TINY_POLICY) as r:
            r.route("x")
        self.assertTrue(r.closed)

    def test_each_thread_gets_its_own_scratch_and_it_is_freed_when_the_thread_ends(self):
        r = Router(TINY_POLICY)
        r.route("x")
        def work():
            r.route("x", attrs={"vip": True})
        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        # The main thread's scratch remains; the four workers' were released with them.
        import gc
        gc.collect()
        self.assertEqual(len(r._scratches), 1)
        r.close()
        self.assertTrue(all(not s.fin.alive for s in r._scratches))

    def test_close_while_other_threads_route_never_crashes(self):
        r = Router.default()
        errors, ok = [], [0]
        def work():
            for _ in range(300):
                try:
                    r.route(**FAQ)
                    ok[0] += 1
                except StateError:
                    return
                except Exception as e:  # pragma: no cover - a failure is reported below
                    errors.append(e)
                    return
        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        r.route(**FAQ)
        r.close()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        with self.assertRaises(StateError):
            r.route(**FAQ)


class ConcurrencyTest(unittest.TestCase):
    def test_many_threads_route_concurrently_with_the_sequential_results(self):
        reqs = [FAQ, REFUND, TICKET, dict(text="hi"), dict(text="Please extract the ticket "
                "fields to json", attrs={"output.format": "json"})]
        with Router.default() as r:
            want = [r.route(**q).reason for q in reqs]
            errors = []
            def work(seed):
                for i in range(400):
                    k = (seed + i) % len(reqs)
                    got = r.route(**reqs[k]).reason
                    if got != want[k]:
                        errors.append((k, got))
            ts = [threading.Thread(target=work, args=(s,)) for s in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
