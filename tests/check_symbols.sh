#!/bin/sh
# The shared library must export exactly the symbols the linker version script lists.
set -eu
lib=$1 map=$2
expected=$(sed -n 's/^ *\(rr_[A-Za-z0-9_]*\);$/\1/p' "$map" | sort)
actual=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sed 's/@.*//' | sort)
if [ "$expected" != "$actual" ]; then
    echo "exported symbols differ from $map (< script only, > library only):"
    true && \
        { echo "$expected" > /tmp/rr_exp.$$; echo "$actual" > /tmp/rr_act.$$;
          diff /tmp/rr_exp.$$ /tmp/rr_act.$$; rm -f /tmp/rr_exp.$$ /tmp/rr_act.$$; }
    exit 1
fi
n=$(echo "$expected" | wc -l)
echo "1 passed, 0 failed: $n symbols exported, all versioned RR_1.0"
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/' | grep -v '@@RR_1.0' | grep . && { echo "unversioned symbols"; exit 1; } || true
