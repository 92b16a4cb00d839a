#!/bin/sh
# C / Python / Go parity: the same generated requests routed through the C API, the Python
# binding and the Go binding must give byte-identical decision records once the one timing
# field, "route_ns", is masked.
#   run_parity.sh SOURCE_ROOT BUILD_DIR PARITY_C_EXE [N]
# Needs python3 and go. Go runs offline with its cache under BUILD_DIR.
set -eu
src=$1
build=$(cd "$2" && pwd)
parity_c=$3
n=${4:-1000}
out="$build/parity"
mkdir -p "$out"

export ROUTERIGHT_LIBRARY="$build/librouteright.so"
export PYTHONPATH="$src/bindings/python"
export PKG_CONFIG_PATH="$build/meson-uninstalled"
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GOCACHE="$build/go-cache" GOPATH="$build/go-path" GOFLAGS=-mod=mod GOPROXY=off GOENV=off
export CGO_ENABLED=1

python3 "$src/tests/parity/gen_requests.py" "$out" "$n"
"$parity_c" "$out/policy.json" "$out/requests.jsonl" > "$out/c.raw"
python3 "$src/tests/parity/parity_py.py" "$out/policy.json" "$out/requests.jsonl" > "$out/py.raw"
(cd "$src/bindings/go" && go build -o "$out/rr-parity" ./cmd/rr-parity)
"$out/rr-parity" "$out/policy.json" "$out/requests.jsonl" > "$out/go.raw"

fail=0
for lang in c py go; do
    sed -E 's/"route_ns":[0-9]+/"route_ns":0/' "$out/$lang.raw" > "$out/$lang.jsonl"
    lines=$(wc -l < "$out/$lang.jsonl")
    if [ "$lines" -ne "$n" ]; then
        echo "parity: $lang produced $lines records, expected $n" >&2
        fail=1
    fi
done
# The corpus must exercise the policy, not route everything one way.
routes=$(grep -o '"route":{"id":"[a-z_0-9]*"' "$out/c.jsonl" | sort -u | wc -l)
echo "parity: $n requests, $routes distinct routes"
if [ "$routes" -lt 6 ]; then
    echo "parity: the corpus reaches only $routes routes" >&2
    fail=1
fi
passed=0
failed=0
for lang in py go; do
    if cmp -s "$out/c.jsonl" "$out/$lang.jsonl"; then
        echo "parity: C == $lang ($n records, byte-identical)"
        passed=$((passed + 1))
    else
        echo "parity: C != $lang; first difference:" >&2
        diff "$out/c.jsonl" "$out/$lang.jsonl" | head -n 4 | cut -c1-400 >&2
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$fail" -eq 0 ] && [ "$failed" -eq 0 ]
