#!/usr/bin/env python3
"""Write the parity corpus: N routing requests (default 1000) as JSONL, deterministically,
and the policy they are routed through.

    gen_requests.py OUTDIR [N] [SEED]    -> OUTDIR/requests.jsonl, OUTDIR/policy.json

The policy is the shipped support copilot plus a numeric attribute "account.risk" that an
eligibility rule reads, so numeric attributes take part in the decisions.

Each line is exactly what rr_request_from_json reads: {"text", "attrs", "evidence",
"conversation_id"}, mixing the support copilot's families (faq with strong and weak
retrieval, troubleshooting, extraction, refund/legal, PII, short unclear asks), every
attribute type (string, bool and the numeric "account.risk" of tests/parity/policy.json),
non-ASCII text and evidence. The same arguments always give the same bytes.
"""
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FAQ = ["How do I reset my password?", "What does the Business plan cost per seat?",
       "Where can I find the API documentation?", "Can I export my data to CSV?",
       "How can I add a teammate to my workspace?", "Is there a discount for nonprofits?",
       "Wie ändere ich meine E-Mail-Adresse?", "¿Cómo cambio mi plan de facturación?"]
TROUBLE = ["Our SSO login fails with error 500 since this morning for all users.",
           "The export is not working for me.", "I can't log in after the update, it crashes.",
           "Sync timed out twice today and the dashboard is broken.",
           "Upload failed with 413 status on files over 10MB 😞"]
EXTRACT = ["From: billing@acme.io\nSubject: Invoice dispute\nPlease extract the ticket fields "
           "from this email: customer ACME-2231 reports invoice INV-7781 overcharged.",
           "Please fill out the ticket for order 88123, shipped 2024-03-02, damaged on arrival.",
           "Convert this to json: name Ada Lovelace, plan Pro, seats 12."]
REGULATED = ["I was charged twice for March. I want a refund and will contact my attorney.",
             "We suspect a data breach in our account; we need a breach notification under GDPR.",
             "This is a formal chargeback request for invoice 5531.",
             "Our legal team asks for the subpoena response process."]
PII = ["Contact me at jane.doe@example.com or +1 415 555 0134.",
       "My card 4111 1111 1111 1111 was charged, SSN 078-05-1120.",
       "Call 020 7946 0958 and ask for 李雷, account of jan.kowalski@firma.pl."]
SHORT = ["hi", "help", "?", "hello there", "ok thanks", "日本語"]
FILLER = ["It started after we renamed the workspace.", "We are on the Pro plan.",
          "This affects about 40 users in three teams.", "Nothing changed on our side.",
          "The logs show ECONNRESET and then a retry.", "Our region is eu-west-1."]
EVIDENCE = [("kb-12", "To reset your password, open Settings, choose Security and click Reset "
             "password. A reset link is emailed to you."),
            ("kb-40", "Two-factor authentication can be enabled under Security."),
            ("kb-3", "Pricing overview for all plans: Business is billed per seat monthly."),
            ("kb-9", "Invoices are sent monthly to the billing contact."),
            ("kb-77", "Exports are available as CSV and JSON from the Data menu."),
            ("kb-81", "Teammates are invited from Settings → Members → Invite."),
            ("kb-90", "Nonprofit discounts are granted on request to support.")]
TIERS = ["free", "standard", "enterprise", "regulated"]
CHANNELS = ["chat", "email", "agent_assist"]


def one(rng: random.Random, i: int) -> dict:
    fam = rng.choice(["faq", "faq", "trouble", "extract", "regulated", "pii", "short", "mixed"])
    if fam == "faq":
        text = rng.choice(FAQ)
    elif fam == "trouble":
        text = " ".join([rng.choice(TROUBLE)] + rng.sample(FILLER, rng.randint(0, 6)) *
                        rng.choice([1, 1, 12]))
    elif fam == "extract":
        text = rng.choice(EXTRACT)
    elif fam == "regulated":
        text = rng.choice(REGULATED)
    elif fam == "pii":
        text = rng.choice(PII) + " " + rng.choice(TROUBLE + FAQ)
    elif fam == "short":
        text = rng.choice(SHORT)
    else:
        text = " ".join(rng.sample(FAQ + TROUBLE + FILLER, 3))
    req = {"text": text}
    attrs = {}
    if rng.random() < 0.8:
        attrs["tenant.tier"] = rng.choice(TIERS)
    if rng.random() < 0.6:
        attrs["user.authenticated"] = rng.random() < 0.7
    if rng.random() < 0.3:
        attrs["channel"] = rng.choice(CHANNELS)
    if rng.random() < 0.15:
        attrs["output.format"] = rng.choice(["text", "json"])
    if rng.random() < 0.4:
        attrs["account.risk"] = rng.choice([0, 0.25, 0.5, 0.81, 0.95, 1, 3.5e-3])
    if attrs:
        req["attrs"] = attrs
    if fam in ("faq", "mixed") and rng.random() < 0.85 or rng.random() < 0.1:
        k = rng.randint(1, 4)
        req["evidence"] = [{"id": eid, "text": et, "score": round(rng.uniform(0.05, 0.99), 3)}
                           for eid, et in rng.sample(EVIDENCE, k)]
    if rng.random() < 0.3:
        req["conversation_id"] = f"conv-{i % 37:04d}"
    return req


def write_policy(path: str) -> None:
    with open(os.path.join(ROOT, "examples", "policies", "support.json"), encoding="utf-8") as f:
        p = json.load(f)
    p["policy"] = "support_copilot_parity"
    p["attributes"]["account.risk"] = {"type": "number", "default": 0}
    p["eligibility"].append({"id": "risky_account_no_small", "when": "account.risk > 0.8",
                             "deny_models": ["small"], "reason": "risky accounts skip small"})
    with open(path, "w", encoding="utf-8") as f:
        json.dump(p, f, indent=1, ensure_ascii=False)


def main() -> None:
    outdir = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20240601
    rng = random.Random(seed)
    os.makedirs(outdir, exist_ok=True)
    write_policy(os.path.join(outdir, "policy.json"))
    with open(os.path.join(outdir, "requests.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for i in range(n):
            f.write(json.dumps(one(rng, i), ensure_ascii=False, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
