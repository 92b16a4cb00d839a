#!/bin/bash
# rrctl as a user drives it: data on stdout, diagnostics on stderr, documented exit codes.
#   test_rrctl.sh RRCTL SOURCE_ROOT
set -u
rrctl=$1 root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { # name, condition...
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
valid_jsonl() { python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$1"; }

"$rrctl" route < "$root/examples/requests/sample.jsonl" > "$tmp/route.out" 2> "$tmp/route.err"
check "route exits 0" test $? -eq 0
check "route writes one record per request" test "$(wc -l < "$tmp/route.out")" -eq "$(grep -c . "$root/examples/requests/sample.jsonl")"
check "route records are JSON" valid_jsonl "$tmp/route.out"
check "route records carry the model" grep -q '"gen_ai.request.model":"premium"' "$tmp/route.out"
check "route prints nothing on stderr" test ! -s "$tmp/route.err"

"$rrctl" route --explain --text "I want a refund" > "$tmp/explain.out"
check "explain names the stages" grep -q "reason       elig=" "$tmp/explain.out"

printf '{"text":"ok?"}\nnot json\n{"text":"fine?"}\n' | "$rrctl" route > "$tmp/bad.out" 2> "$tmp/bad.err"
check "bad line exits 3" test $? -eq 3
check "bad line named with its number" grep -q "line 2" "$tmp/bad.err"
check "good lines still routed" test "$(wc -l < "$tmp/bad.out")" -eq 2

"$rrctl" features --spans --text "mail jane@example.com or call +1 415 555 0134" > "$tmp/feat.out"
check "features report email span" grep -q '"type":"email","start":5,"end":21' "$tmp/feat.out"
check "features never print the value" test "$(grep -c 'jane@' "$tmp/feat.out")" -eq 0

"$rrctl" lint "$root/examples/policies/support.json" > "$tmp/lint.out"
check "lint passes the shipped policy" test $? -eq 0
check "lint prints ladders" grep -q "small_rag_v2 .*attempts" "$tmp/lint.out"
"$rrctl" lint "$root/tests/data/policies/invalid/rule_unknown_route.json" 2> "$tmp/lint.err"
check "lint fails with exit 2" test $? -eq 2
check "lint error names the pointer" grep -q "/rules/0/route" "$tmp/lint.err"

printf '%s\n' '{"id":1,"output":"{\"a\":1}","schema":{"type":"object","required":["b"]}}' \
    | "$rrctl" validate > "$tmp/val.out"
check "validate reports the required finding" grep -q '"code":"required"' "$tmp/val.out"

"$rrctl" --version | grep -q "rrctl 1.0.0"
check "version" test $? -eq 0
"$rrctl" route --bogus 2> /dev/null
check "bad option exits 1" test $? -eq 1
"$rrctl" nosuchcommand 2> /dev/null
check "unknown command exits 1" test $? -eq 1

echo "$pass passed, $fail failed"
test "$fail" -eq 0
