#!/bin/sh
# Times peer JSON Schema validators on exactly the bytes bench_schema uses, in the same run:
# ajv (+ ajv-formats) and @exodus/schemasafe from npm, Debian's python3-jsonschema and
# python3-fastjsonschema. Installs what is missing: npm packages into bench/out/peers
# (ignored by git), Debian packages with apt-get.
#   bench/bench_schema_peers.sh [build_dir] [iterations] [baseline_build_dir]
# A baseline build (e.g. an older commit) runs first, so before/after share one run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
iters=${2:-200000}
baseline=${3:-}
work=$here/out/peers
bin=$build/bench/bench_schema
[ -x "$bin" ] || { echo "build bench_schema first (ninja -C $build)" >&2; exit 1; }
mkdir -p "$work"
"$bin" --dump "$work"

if [ -n "$baseline" ]; then
    echo "== routeright (C), baseline $baseline =="
    "$baseline/bench/bench_schema" "$iters"
fi
echo "== routeright (C) =="
"$bin" "$iters"

if ! [ -d "$work/node_modules/ajv" ] || ! [ -d "$work/node_modules/@exodus/schemasafe" ] ||
   ! [ -d "$work/node_modules/ajv-formats" ]; then
    (cd "$work" && npm install --silent --no-audit --no-fund --prefix "$work" \
        ajv@8 ajv-formats@3 @exodus/schemasafe@1 >/dev/null)
fi
cat > "$work/peers.js" <<'JS'
const fs = require('fs');
const dir = process.argv[2], iters = +process.argv[3];
const schema = JSON.parse(fs.readFileSync(dir + '/schema.json', 'utf8'));
const texts = { valid: fs.readFileSync(dir + '/valid.json', 'utf8'),
                invalid: fs.readFileSync(dir + '/invalid.json', 'utf8') };
const Ajv2020 = require(dir + '/node_modules/ajv/dist/2020').default;
const addFormats = require(dir + '/node_modules/ajv-formats').default;
const { validator } = require(dir + '/node_modules/@exodus/schemasafe');
function ajv(allErrors) { const a = new Ajv2020({ allErrors }); addFormats(a); return a.compile(schema); }
const peers = {
  'ajv (first error)': ajv(false),
  'ajv (allErrors)': ajv(true),
  'schemasafe (first error)': validator(schema),
  'schemasafe (allErrors)': validator(schema, { includeErrors: true, allErrors: true }),
};
function median(f) {
  const B = 21, n = Math.ceil(iters / B), per = [];
  for (let i = 0; i < n; i++) f();
  for (let b = 0; b < B; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) f();
    per.push(Number(process.hrtime.bigint() - t0) / n);
  }
  per.sort((x, y) => x - y);
  return [per[B >> 1], per[0]];
}
const parseNs = {};
for (const [k, t] of Object.entries(texts)) parseNs[k] = median(() => JSON.parse(t));
const f = ([m, lo]) => `${m.toFixed(1).padStart(8)} ns (fastest ${lo.toFixed(1)})`;
for (const [name, v] of Object.entries(peers)) {
  for (const [k, t] of Object.entries(texts)) {
    const obj = JSON.parse(t);
    if (v(obj) !== (k === 'valid')) throw new Error(name + ' disagrees on ' + k);
    const p = median(() => v(obj)), w = median(() => v(JSON.parse(t)));
    console.log(`${name.padEnd(26)} ${k.padEnd(8)} parsed ${f(p)}   with JSON.parse ${f(w)}`);
  }
}
for (const k of Object.keys(texts))
  console.log(`${'JSON.parse only'.padEnd(26)} ${k.padEnd(8)} ${f(parseNs[k])}`);
JS
echo "== node $(node --version) =="
node "$work/peers.js" "$work" "$iters"

for pkg in python3-jsonschema python3-fastjsonschema; do
    if ! dpkg -s "$pkg" >/dev/null 2>&1; then
        apt-get install -y -q "$pkg" >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null && apt-get install -y -q "$pkg" >/dev/null; }
    fi
done
cat > "$work/peers.py" <<'PY'
import json, sys, timeit
import jsonschema, fastjsonschema
d, iters = sys.argv[1], int(sys.argv[2]) // 20
schema = json.load(open(d + '/schema.json'))
texts = {k: open(f'{d}/{k}.json').read() for k in ('valid', 'invalid')}
js = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
d7 = dict(schema); d7.pop('$schema', None)   # fastjsonschema knows drafts 4, 6 and 7
fj = fastjsonschema.compile(d7)
def fj_ok(o):
    try:
        fj(o); return True
    except fastjsonschema.JsonSchemaException:
        return False
peers = {'jsonschema (is_valid)': js.is_valid,
         'jsonschema (all errors)': lambda o: not list(js.iter_errors(o)),
         'fastjsonschema': fj_ok}
def median(f, n):
    runs = sorted(timeit.repeat(f, number=n, repeat=7))
    return f'{runs[3] / n * 1e9:10.1f} ns (fastest {runs[0] / n * 1e9:.1f})'
for name, v in peers.items():
    for k, t in texts.items():
        o = json.loads(t)
        assert v(o) == (k == 'valid'), (name, k)
        n = max(200, iters // (50 if 'jsonschema' in name else 1))
        p = median(lambda: v(o), n)
        w = median(lambda: v(json.loads(t)), n)
        print(f'{name:26} {k:8} parsed {p}   with json.loads {w}')
PY
echo "== python $(/usr/bin/python3 --version 2>&1 | cut -d' ' -f2), jsonschema $(/usr/bin/python3 -c 'import jsonschema; print(jsonschema.__version__)' 2>/dev/null || echo '?') =="
/usr/bin/python3 "$work/peers.py" "$work" "$iters"
