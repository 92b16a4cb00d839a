#!/usr/bin/env python3
"""Classifier benchmark on public data: CLINC150 (in-scope accuracy, out-of-scope recall,
both the threshold and the out-of-scope-class scheme), BANKING77 (5-fold cross-validation
accuracy; test.csv too when present), RouteLLM strong/weak routing (APGR, CPT(50%)), and
cost (training time, model size, prediction latency beside xxh3: median and p99 per call
for the 10-domain and 150-intent CLINC150 models, with the kernels this CPU picks and with
the SSE2 ones every x86-64 runs).

Every data set's path is an argument with a default under /work/shared/data/. The
originals' held-out parts are read in their published form when present: CLINC150's
`test`/`oos_test` keys of data_full.json, BANKING77's test.csv beside train.csv, RouteLLM's
CSVs (MMLU directory, GSM8K file or directory).

Nothing is tuned on the evaluation parts: rrctl's defaults are used throughout; internal
validation splits are taken from the training part by a hash of the text. For the CLINC150
threshold scheme the validation set holds the internal split plus half of oos_train, so it
has about 30 in-scope examples per out-of-scope one, the ratio of CLINC150's published val
and test splits.

  bench/bench_classifier.py --rrctl build/tools/rrctl/rrctl \
      --bench-bin build/bench/bench_classifier [--clinc P] [--banking P] [--mmlu P] [--gsm8k P]
"""
import argparse, csv, glob, hashlib, json, os, re, statistics, subprocess, sys, tempfile, time

D = '/work/shared/data'


def h(text, mod):
    return int(hashlib.sha1(text.encode('utf-8')).hexdigest()[:8], 16) % mod


def write_jsonl(path, rows):
    with open(path, 'w') as f:
        for t, l in rows:
            f.write(json.dumps({'text': t, 'label': l}) + '\n')


def run(cmd):
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.exit('command failed (%d): %s\n%s' % (p.returncode, ' '.join(cmd), p.stderr))
    return p.stdout, time.time() - t0


def train(a, out, train_path, *extra):
    stdout, secs = run([a.rrctl, 'train', '-o', out, train_path] + list(extra))
    return stdout, secs


def evaluate(a, model, data, *extra):
    stdout, _ = run([a.rrctl, 'eval-classifier', '-m', model, '--json', data] + list(extra))
    return json.loads(stdout)


def clinc(a, work, res):
    d = json.load(open(a.clinc))
    tr = [r for r in d['train'] if h(r[0], 10)]
    va = [r for r in d['train'] if not h(r[0], 10)]
    oos_tr = [r for r in d['oos_train'] if h(r[0], 10)]
    oos_va = [r for r in d['oos_train'] if not h(r[0], 10)]
    half_oos = [r for r in d['oos_train'] if h(r[0], 2)]
    p = lambda n: os.path.join(work, n)
    write_jsonl(p('thr_train.jsonl'), tr)
    write_jsonl(p('thr_val.jsonl'), va + half_oos)
    write_jsonl(p('cls_train.jsonl'), tr + oos_tr)
    write_jsonl(p('cls_val.jsonl'), va + oos_va)
    write_jsonl(p('full.jsonl'), d['train'])
    evals = {'val': d['val'] + d['oos_val']}
    if 'test' in d and 'oos_test' in d:
        evals['test'] = d['test'] + d['oos_test']
    for k, rows in evals.items():
        write_jsonl(p('clinc_%s.jsonl' % k), rows)
    _, res['clinc_train_s'] = train(a, p('clinc_full.rrc'), p('full.jsonl'), '-q')
    res['clinc_model_bytes'] = os.path.getsize(p('clinc_full.rrc'))
    train(a, p('clinc_thr.rrc'), p('thr_train.jsonl'), '--val', p('thr_val.jsonl'),
          '--oos-label', 'oos', '--oos-threshold', 'auto', '-q')
    train(a, p('clinc_cls.rrc'), p('cls_train.jsonl'), '--val', p('cls_val.jsonl'),
          '--oos-label', 'oos', '-q')
    for k in evals:
        for scheme in ('thr', 'cls'):
            r = evaluate(a, p('clinc_%s.rrc' % scheme), p('clinc_%s.jsonl' % k),
                         '--oos-label', 'oos')
            res['clinc_%s_%s' % (scheme, k)] = r
    # a task-family sized model: CLINC150's 10 domains
    dom = json.load(open(os.path.join(os.path.dirname(a.clinc), 'domains.json')))
    inv = {i: dn for dn, l in dom.items() for i in l}
    write_jsonl(p('dom_train.jsonl'), [(t, inv[l]) for t, l in d['train']])
    train(a, p('clinc_domain.rrc'), p('dom_train.jsonl'), '-q')


def banking(a, work, res):
    rows = list(csv.DictReader(open(a.banking, newline='', encoding='utf-8')))
    rows = [(r['text'], r['category']) for r in rows]
    accs = []
    for k in range(5):
        tr = [r for r in rows if h(r[0], 5) != k]
        te = [r for r in rows if h(r[0], 5) == k]
        write_jsonl(os.path.join(work, 'b_tr.jsonl'), tr)
        write_jsonl(os.path.join(work, 'b_te.jsonl'), te)
        m = os.path.join(work, 'banking_%d.rrc' % k)
        train(a, m, os.path.join(work, 'b_tr.jsonl'), '-q')
        accs.append(evaluate(a, m, os.path.join(work, 'b_te.jsonl'))['accuracy'])
    res['banking_cv'] = accs
    test = os.path.join(os.path.dirname(a.banking), 'test.csv')
    if os.path.exists(test):
        m = os.path.join(work, 'banking_full.rrc')
        train(a, m, a.banking, '--label-field', 'category', '-q')
        res['banking_test'] = evaluate(a, m, test, '--label-field', 'category')


def csv_files(path):
    if not path or not os.path.exists(path):
        return []
    return sorted(glob.glob(os.path.join(path, '*.csv'))) if os.path.isdir(path) else [path]


def routellm(a, work, res, name, files):
    rows, header = [], None
    for f in files:
        r = csv.reader(open(f, newline='', encoding='utf-8'))
        hd = next(r)
        if header is None:
            header = hd
        if hd[1:3] != header[1:3]:
            sys.exit('%s: model columns differ from %s' % (f, files[0]))
        rows += [x[:3] for x in r if len(x) >= 3]
    tr = [x for x in rows if h(x[0], 5)]
    ev = [x for x in rows if not h(x[0], 5)]
    for fn, part in (('rl_train.csv', tr), ('rl_eval.csv', ev)):
        with open(os.path.join(work, fn), 'w', newline='', encoding='utf-8') as f:
            w = csv.writer(f)
            w.writerow([header[0]] + header[1:3])
            w.writerows(part)
    m = os.path.join(work, 'router_%s.rrc' % name)
    train(a, m, os.path.join(work, 'rl_train.csv'), '--format', 'routellm',
          '--text-field', header[0], '-q')
    r = evaluate(a, m, os.path.join(work, 'rl_eval.csv'), '--format', 'routellm',
                 '--text-field', header[0])
    r['n_train'], r['n_eval'], r['models'] = len(tr), len(ev), header[1:3]
    res['routellm_%s' % name] = r


def parse_bench(out):
    """bench_classifier's output: the xxh3 floor and, per model, medians and p99s."""
    r = {'xxh3_200B_ns': float(re.search(r'xxh3-64 of the 200-byte request: median ([0-9.]+)',
                                         out).group(1)), 'models': []}
    for block in out.split('model ')[1:]:
        m = {'kernel': re.search(r'kernel (\w+)', block).group(1)}
        for key, pat in (('200B', r'200-byte request: median (\d+) ns  p99 (\d+) ns'),
                         ('rotating', r'rotating texts: median (\d+) ns  p99 (\d+) ns')):
            g = re.search(pat, block)
            m['predict_%s_ns' % key], m['predict_%s_p99_ns' % key] = float(g[1]), float(g[2])
        r['models'].append(m)
    return r


def latency(a, work, res):
    if not a.bench_bin:
        return
    texts = os.path.join(work, 'texts.txt')
    with open(texts, 'w') as f:
        for l in open(os.path.join(work, 'clinc_val.jsonl')):
            f.write(json.loads(l)['text'] + '\n')
    names = ('clinc_domain', 'clinc_full')
    models = [os.path.join(work, n + '.rrc') for n in names]
    for kernel in ('', 'sse2'):
        out, _ = run([a.bench_bin, '--texts', texts] + (['--kernel', kernel] if kernel else []) +
                     models)
        b = parse_bench(out)
        for name, path, m in zip(names, models, b['models']):
            m['xxh3_200B_ns'], m['bytes'] = b['xxh3_200B_ns'], os.path.getsize(path)
            res['latency_%s%s' % (name, '_' + kernel if kernel else '')] = m


def report(res):
    pct = lambda x: '%.1f' % (100 * x)
    print('| data set | metric | ours | paper baselines |')
    print('|---|---|---|---|')
    for k in ('val', 'test'):
        if 'clinc_cls_%s' % k not in res:
            continue
        c, t = res['clinc_cls_%s' % k], res['clinc_thr_%s' % k]
        print('| CLINC150 %s, oos-class | in-scope acc / oos recall | %s / %s | FastText 89.0/9.7, '
              'SVM 91.0/14.5, MLP 93.5/47.4, BERT 96.9/40.3 |' % (
                  k, pct(c['in_scope_accuracy']), pct(c['oos_recall'])))
        print('| CLINC150 %s, threshold | in-scope acc / oos recall (t=%.3f) | %s / %s | FastText '
              '88.6/28.3, BERT 96.2/52.3 |' % (k, t['threshold'], pct(t['in_scope_accuracy']),
                                               pct(t['oos_recall'])))
        print('| CLINC150 %s | ECE raw -> calibrated | %.4f -> %.4f | |' % (
            k, t['ece_raw'], t['ece']))
    if 'banking_cv' in res:
        v = res['banking_cv']
        print('| BANKING77 train.csv 5-fold CV | accuracy | %s ± %s | aim >= 90 |' % (
            pct(statistics.mean(v)), pct(statistics.stdev(v))))
    if 'banking_test' in res:
        print('| BANKING77 test.csv | accuracy | %s | |' % pct(res['banking_test']['accuracy']))
    for name in ('mmlu', 'gsm8k'):
        r = res.get('routellm_%s' % name)
        if r:
            print('| RouteLLM %s (%d train / %d eval) | APGR / CPT(50%%) / AUROC | %.3f / %s%% / '
                  '%.3f | random 0.50 / 50%% |' % (name.upper(), r['n_train'], r['n_eval'],
                                                   r['apgr'], pct(r['cpt50']), r['auroc']))
    if 'clinc_train_s' in res:
        print('| CLINC150 15,000 examples | training time / model size | %.2f s / %.2f MB | '
              '<= 10 s / <= 8 MB |' % (res['clinc_train_s'], res['clinc_model_bytes'] / 1e6))
    for suffix, how in (('', ''), ('_sse2', ', SSE2 only')):
        for name, label in (('clinc_domain', '10 domains'), ('clinc_full', '150 intents')):
            l = res.get('latency_' + name + suffix)
            if not l:
                continue
            print('| predict, 200-byte request, %s (%s kernel%s) | median / p99 ns (xxh3 of '
                  'same) | %.0f / %.0f (%.1f) | <= 3000 |' % (
                      label, l['kernel'], how, l['predict_200B_ns'], l['predict_200B_p99_ns'],
                      l['xxh3_200B_ns']))
            print('| predict, CLINC150 val texts in turn, %s (%s kernel%s) | median / p99 ns | '
                  '%.0f / %.0f | |' % (label, l['kernel'], how, l['predict_rotating_ns'],
                                       l['predict_rotating_p99_ns']))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rrctl', default=os.environ.get('RRCTL', 'build/tools/rrctl/rrctl'))
    ap.add_argument('--bench-bin', default=os.environ.get('BENCH_CLASSIFIER',
                                                          'build/bench/bench_classifier'))
    ap.add_argument('--clinc', default=D + '/clinc150/data_full.json')
    ap.add_argument('--banking', default=D + '/banking77/train.csv')
    ap.add_argument('--mmlu', default=D + '/routellm-mmlu')
    ap.add_argument('--gsm8k', default=D + '/routellm-gsm8k')
    ap.add_argument('--only', default='clinc,banking,mmlu,gsm8k,latency')
    ap.add_argument('--json', help='also write the results here')
    ap.add_argument('--work', help='keep the data splits and models in this directory')
    a = ap.parse_args()
    if not os.path.exists(a.bench_bin):
        a.bench_bin = None
    only, res = a.only.split(','), {}
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or tmp
        os.makedirs(work, exist_ok=True)
        if 'clinc' in only and os.path.exists(a.clinc):
            clinc(a, work, res)
        if 'banking' in only and os.path.exists(a.banking):
            banking(a, work, res)
        for name in ('mmlu', 'gsm8k'):
            files = csv_files(getattr(a, name))
            if name in only and files:
                routellm(a, work, res, name, files)
        if 'latency' in only and 'clinc_train_s' in res:
            latency(a, work, res)
    report(res)
    if a.json:
        json.dump(res, open(a.json, 'w'), indent=1)


if __name__ == '__main__':
    main()
