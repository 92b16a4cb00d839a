import json
import os
import tempfile
import unittest

import routeright
from routeright import DataError, Evaluation, NotFoundError, Router, StateError

from support import FAQ

RECORD = {"id": "r1", "text": "How do I reset my password?",
          "outcomes": {"small_rag_v2": {"quality": 0.9, "accepted": True},
                       "medium_rag_v1": {"quality": 0.9, "accepted": True}}}


@unittest.skipUnless(routeright.has("rr_eval_new"), "the library has no rr_eval_new")
class EvaluationTest(unittest.TestCase):
    def test_replay_counts_and_result(self):
        with Router.default() as r, Evaluation(r) as ev:
            ev.add_line(RECORD)
            ev.add_line(json.dumps(RECORD))
            self.assertEqual((ev.record_count, ev.malformed_count), (2, 0))
            res = ev.result()
            self.assertEqual(res["records"], 2)
            self.assertEqual(json.loads(ev.result_json()), res)

    def test_partials_merge_to_the_same_counts(self):
        with Router.default() as r:
            shards = []
            for _ in range(2):
                with Evaluation(r) as ev:
                    ev.add_line(RECORD)
                    shards.append(ev.partial_json())
            with Evaluation(None) as total:
                for p in shards:
                    total.merge(p)
                self.assertEqual(total.result()["records"], 2)
                with self.assertRaises(DataError):
                    total.merge("{}")

    def test_malformed_line_is_a_data_error_naming_the_line(self):
        with Router.default() as r, Evaluation(r) as ev:
            with self.assertRaises(DataError) as cm:
                ev.add_line("{nope")
            self.assertEqual(cm.exception.name, "EDATA")
            self.assertIn("line 1", cm.exception.message)
        with Router.default() as r, Evaluation(r, skip_malformed=True) as ev:
            ev.add_line("{nope")
            self.assertEqual(ev.malformed_count, 1)

    def test_add_file_streams_and_missing_file_is_io_error(self):
        with tempfile.TemporaryDirectory() as d, Router.default() as r, Evaluation(r) as ev:
            path = os.path.join(d, "replay.jsonl")
            with open(path, "w") as f:
                f.write(json.dumps(RECORD) + "\n" + json.dumps(RECORD) + "\n")
            ev.add_file(path)
            self.assertEqual(ev.record_count, 2)
            with self.assertRaises(routeright.RouteRightIOError):
                ev.add_file(path + ".none")

    def test_open_evaluation_keeps_a_closed_router_alive(self):
        r = Router.default()
        ev = Evaluation(r)
        r.close()
        with self.assertRaises(StateError):
            r.route("hi")
        ev.add_line(RECORD)  # the C router is still there
        self.assertEqual(ev.record_count, 1)
        ev.close()
        self.assertIsNone(r._ptr)
        with self.assertRaises(StateError):
            ev.add_line(RECORD)


@unittest.skipUnless(routeright.has("rr_route_to", "rr_decision_tier"), "no rr_route_to")
class RouteToTest(unittest.TestCase):
    def test_route_to_takes_the_named_route_and_reports_its_tier(self):
        with Router.default() as r:
            d = r.route_to("premium_rag_v1", FAQ["text"], evidence=FAQ["evidence"])
            self.assertEqual((d.route, d.model, d.tier), ("premium_rag_v1", "premium", 3))
            with self.assertRaises(NotFoundError):
                r.route_to("no_such_route", "hi")
            self.assertEqual(r.route("hi").tier, 0)  # clarify: terminal
            r.route(**FAQ, last_tier=3)


if __name__ == "__main__":
    unittest.main()
