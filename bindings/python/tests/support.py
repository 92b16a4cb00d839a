"""Shared fixtures of the binding tests: the built-in policy's requests and a small policy."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# Subprocesses of the tests run elsewhere: a relative library path must not break them.
if os.environ.get("ROUTERIGHT_LIBRARY"):
    os.environ["ROUTERIGHT_LIBRARY"] = os.path.abspath(os.environ["ROUTERIGHT_LIBRARY"])
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SUPPORT_POLICY = os.path.join(ROOT, "examples", "policies", "support.json")

FAQ = dict(
    text="How do I reset my password?",
    attrs={"tenant.tier": "enterprise", "user.authenticated": True},
    evidence=[("kb-12", "To reset your password, open Settings, choose Security and click "
               "Reset password. A reset link is emailed to you.", 0.91),
              ("kb-40", "Two-factor authentication can be enabled under Security.", 0.52)],
)
REFUND = dict(text="I was charged twice for March. I want a refund and will contact my "
              "attorney if this is not fixed.",
              attrs={"tenant.tier": "enterprise", "user.authenticated": True})
TICKET = dict(text="Our SSO login fails with error 500 since this morning for all users.",
              attrs={"user.authenticated": True})

TINY_POLICY = {
    "policy": "tiny", "version": "3",
    "models": {"m": {"tier": 1, "usd_per_mtok_in": 1, "usd_per_mtok_out": 1, "latency_ms": 10}},
    "attributes": {"vip": "bool", "score": "number"},
    "rules": [
        {"id": "vip", "when": "vip", "route": "fast"},
        {"id": "scored", "when": "score > 5", "route": "fast"},
        {"id": "rest", "when": "true", "route": "slow"},
    ],
    "routes": {
        "fast": {"model": "m", "prompt": "p_fast", "version": "7"},
        "slow": {"kind": "defer", "message": "later", "version": "1"},
    },
}


def tiny_policy_text(**changes):
    p = json.loads(json.dumps(TINY_POLICY))
    p.update(changes)
    return json.dumps(p, indent=2)
