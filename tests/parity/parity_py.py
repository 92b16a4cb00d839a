#!/usr/bin/env python3
"""Parity, Python side: route each JSONL request through the binding's Router.route (the
keyword API, not route_json, so the attribute and evidence setters are what is compared)
and print each decision record on its own line.
    parity_py.py POLICY.json REQUESTS.jsonl"""
import json
import sys

from routeright import Router


def main() -> int:
    policy, requests = sys.argv[1], sys.argv[2]
    out = sys.stdout
    with Router(policy) as router, open(requests, encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            d = router.route(q["text"], attrs=q.get("attrs"), evidence=q.get("evidence"),
                             conversation_id=q.get("conversation_id"))
            out.write(d.record_json)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
