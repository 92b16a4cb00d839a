#!/bin/sh
# Regenerate lib/routeright.map from the RR_API declarations in include/routeright.h.
# The abi-symbols test checks that the built library exports exactly this list.
set -eu
cd "$(dirname "$0")/.."
{
  echo "RR_1.0 {"
  echo "  global:"
  tr '\n' ' ' < include/routeright.h | grep -o 'RR_API [^;(]*(' | sed 's/($//; s/.*[ *]//' \
    | grep '^rr_' | sort -u | sed 's/^/    /; s/$/;/'
  echo "  local:"
  echo "    *;"
  echo "};"
} > lib/routeright.map
