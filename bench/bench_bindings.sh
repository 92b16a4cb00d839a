#!/bin/sh
# Per-call cost of the Python and Go bindings against C, in one run, on the same requests:
# the parity corpus (tests/parity/gen_requests.py, 1000 mixed requests with attributes and
# evidence) routed by the C loop (bench_bindings), the Python loop (bench_bindings.py) and
# the Go loop (bindings/go/cmd/rr-bench). Each prints the median over ROUNDS of the mean
# process-CPU ns per route (CPU time, so a busy machine does not inflate it), with the
# decision record read and without; this prints them side by side
# with the ratio to C and the binding's added ns per call.
#   bench/bench_bindings.sh [BUILD_DIR] [ROUNDS]      (default: build, 15)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
rounds=${2:-15}
out="$build/bench-bindings"
mkdir -p "$out"

export ROUTERIGHT_LIBRARY="$build/librouteright.so"
export PYTHONPATH="$src/bindings/python"
export PKG_CONFIG_PATH="$build/meson-uninstalled"
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GOCACHE="$build/go-cache" GOPATH="$build/go-path" GOFLAGS=-mod=mod GOPROXY=off GOENV=off

python3 "$src/tests/parity/gen_requests.py" "$out" 1000
(cd "$src/bindings/go" && go build -o "$out/rr-bench" ./cmd/rr-bench)
{
    "$build/bench/bench_bindings" "$out/policy.json" "$out/requests.jsonl" "$rounds" 2>/dev/null
    python3 "$src/bench/bench_bindings.py" "$out/policy.json" "$out/requests.jsonl" "$rounds"
    "$out/rr-bench" "$out/policy.json" "$out/requests.jsonl" "$rounds"
} > "$out/results.txt"

echo "1000 requests (parity corpus), median of $rounds rounds of mean CPU ns/route; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
awk '
    { ns[$1] = $2; order[++n] = $1 }
    END {
        printf "%-18s %10s %9s %12s\n", "loop", "ns/route", "x C", "added ns"
        for (i = 1; i <= n; i++) {
            k = order[i]; base = (k ~ /_norecord$/) ? ns["c_norecord"] : ns["c"]
            printf "%-18s %10d %9.2f %12d\n", k, ns[k], ns[k] / base, ns[k] - base
        }
    }' "$out/results.txt"
