#!/bin/sh
# routeright.h must compile on its own as strict C99 and as C++.
set -eu
inc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include "routeright.h"\nint main(void) { return rr_version_number() > 0 ? 0 : 1; }\n' > "$tmp/a.c"
cp "$tmp/a.c" "$tmp/a.cpp"
cc -std=c99 -pedantic -Wall -Wextra -Werror -I"$inc" -c "$tmp/a.c" -o "$tmp/a.o"
c++ -std=c++11 -pedantic -Wall -Wextra -Werror -I"$inc" -c "$tmp/a.cpp" -o "$tmp/b.o"
echo "2 passed, 0 failed: routeright.h compiles alone as C99 -pedantic and as C++11"
