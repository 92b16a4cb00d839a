#!/usr/bin/env python3
"""The Python loop of bench_bindings.sh: route the JSONL requests through the binding and
print the median over rounds of the mean process-CPU ns per route, with and without reading the record:
    python <ns>
    python_norecord <ns>
    bench_bindings.py POLICY.json REQUESTS.jsonl [ROUNDS]"""
import json
import statistics
import sys
import time

from routeright import Router


def one_round(route, reqs, record):
    t0 = time.process_time_ns()  # CPU time, as the C and Go loops measure
    for text, attrs, ev, conv in reqs:
        d = route(text, attrs, ev, conv)
        d.route, d.model
        if record:
            d.record_json
    return (time.process_time_ns() - t0) / len(reqs)


def main() -> None:
    policy, path = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    with open(path, encoding="utf-8") as f:
        reqs = [(q["text"], q.get("attrs"), q.get("evidence"), q.get("conversation_id"))
                for q in map(json.loads, f)]
    with Router(policy) as r:
        for name, record in (("python", True), ("python_norecord", False)):
            one_round(r.route, reqs, record)  # warm-up
            per = [one_round(r.route, reqs, record) for _ in range(rounds)]
            print(f"{name} {statistics.median(per):.0f}", flush=True)


if __name__ == "__main__":
    main()
