// computeMetrics on hand-computed cases, the SemEval official score, and (when Debian's python3-sklearn
// is installed) a comparison with scikit-learn on random label arrays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { computeMetrics, semevalOfficialF1 } from '../../src/metrics/index.ts';

// Exact rational results computed in doubles: allow only rounding noise.
const EPS = 1e-12;
const close = (a: number, b: number, msg?: string) =>
  assert.ok(Math.abs(a - b) <= EPS, `${msg ?? ''} ${a} != ${b}`);

test('perfect predictions score 1 everywhere', () => {
  const gold = ['a', 'b', 'NA', 'a'];
  const m = computeMetrics({ gold, pred: [...gold], na_label: 'NA' });
  assert.equal(m.accuracy, 1);
  assert.equal(m.macro_f1, 1);
  assert.equal(m.micro_f1, 1);
  assert.deepEqual(m.confusion, {
    labels: ['NA', 'a', 'b'],
    matrix: [
      [1, 0, 0],
      [0, 2, 0],
      [0, 0, 1],
    ],
  });
});

test('hand-computed macro/micro/per-relation', () => {
  // gold a a a b b NA NA ; pred a a b b NA NA a
  const gold = ['a', 'a', 'a', 'b', 'b', 'NA', 'NA'];
  const pred = ['a', 'a', 'b', 'b', 'NA', 'NA', 'a'];
  const m = computeMetrics({ gold, pred, na_label: 'NA' });
  close(m.accuracy, 4 / 7);
  // a: P 2/3 R 2/3 F 2/3 ; b: P 1/2 R 1/2 F 1/2 ; NA: P 1/2 R 1/2 F 1/2
  close(m.macro_f1, (2 / 3 + 0.5 + 0.5) / 3);
  // non-NA predictions 5 (a a b b a), non-NA gold 5, correct non-NA 3 → P = R = F = 3/5
  close(m.micro_f1, 3 / 5);
  assert.deepEqual(m.per_relation.b, { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
  assert.deepEqual(m.confusion.labels, ['NA', 'a', 'b']);
  assert.deepEqual(m.confusion.matrix, [
    [1, 1, 0],
    [0, 2, 1],
    [1, 0, 1],
  ]);
});

test('a label only predicted counts in the macro average with F1 0 (sklearn semantics)', () => {
  const m = computeMetrics({ gold: ['a', 'a'], pred: ['a', 'z'], na_label: null });
  // a: P 1 R 1/2 F 2/3 ; z: P 0 (0/1) R 0 (0/0 → 0) F 0 → macro = 1/3
  close(m.macro_f1, 1 / 3);
  assert.deepEqual(m.per_relation.z, { precision: 0, recall: 0, f1: 0, support: 0 });
  close(m.micro_f1, m.accuracy, 'micro equals accuracy without an NA label');
});

test('a gold label never predicted has precision 0 and F1 0 (zero_division=0)', () => {
  const m = computeMetrics({ gold: ['a', 'b'], pred: ['a', 'a'], na_label: null });
  assert.deepEqual(m.per_relation.b, { precision: 0, recall: 0, f1: 0, support: 1 });
  close(m.macro_f1, (2 / 3 + 0) / 2);
});

test('all-NA predictions give micro F1 0; NA-only data gives 0 without dividing by zero', () => {
  assert.equal(computeMetrics({ gold: ['a', 'NA'], pred: ['NA', 'NA'], na_label: 'NA' }).micro_f1, 0);
  assert.equal(computeMetrics({ gold: ['NA'], pred: ['NA'], na_label: 'NA' }).micro_f1, 0);
  const empty = computeMetrics({ gold: [], pred: [], na_label: 'NA' });
  assert.equal(empty.accuracy, 0);
  assert.equal(empty.macro_f1, 0);
});

test('labels option fixes the order and adds absent relations without changing macro F1', () => {
  const m = computeMetrics({ gold: ['b', 'a'], pred: ['b', 'b'], na_label: 'NA', labels: ['NA', 'b', 'c'] });
  assert.deepEqual(m.confusion.labels, ['NA', 'b', 'c', 'a']);
  assert.equal(m.per_relation.c.support, 0);
  close(m.macro_f1, (2 / 3 + 0) / 2);
});

test('mismatched lengths are an internal error', () => {
  assert.throws(
    () => computeMetrics({ gold: ['a'], pred: [], na_label: null }),
    /1 gold labels but 0 predictions/,
  );
});

const CE12 = 'Cause-Effect(e1,e2)',
  CE21 = 'Cause-Effect(e2,e1)',
  MC12 = 'Member-Collection(e1,e2)',
  MC21 = 'Member-Collection(e2,e1)';

test('SemEval official score: table of hand-computed cases', () => {
  const cases: Array<{ name: string; gold: string[]; pred: string[]; want: number }> = [
    { name: 'gold = pred', gold: [CE12, CE21, MC12, 'Other'], pred: [CE12, CE21, MC12, 'Other'], want: 1 },
    { name: 'all Other', gold: [CE12, MC21, 'Other'], pred: ['Other', 'Other', 'Other'], want: 0 },
    // CE: correct 2, proposed 2 + 1 wrong direction → P 2/3, R 2/3; MC: P 0 (0/1), R 0 → F 0.
    {
      name: 'wrong direction counts against precision',
      gold: [CE12, CE12, CE21, MC12, 'Other', 'Other'],
      pred: [CE12, CE21, CE21, 'Other', MC21, 'Other'],
      want: 2 / 3 / 2,
    },
    // Predicted type absent from gold: a wrong prediction, no extra macro term.
    { name: 'predicted type not in gold', gold: [CE12, CE12], pred: [CE12, MC12], want: (2 * 1 * 0.5) / 1.5 },
    // Only Other in gold: the Perl script divides by zero; we return 0.
    { name: 'no relation types in gold', gold: ['Other'], pred: [CE12], want: 0 },
  ];
  for (const c of cases) close(semevalOfficialF1(c.gold, c.pred), c.want, c.name);
});

test('SemEval score is reported by computeMetrics only when asked, with the NA label as Other', () => {
  assert.equal(
    computeMetrics({ gold: [CE12], pred: [CE12], na_label: 'Other' }).semeval_official_f1,
    undefined,
  );
  const m = computeMetrics({
    gold: [CE12, 'Other'],
    pred: [CE21, 'Other'],
    na_label: 'Other',
    semeval: true,
  });
  assert.equal(m.semeval_official_f1, 0);
});

/** Deterministic labels for the sklearn comparison (mulberry32). */
function randomLabels(seed: number, n: number, labels: string[]): string[] {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: n }, () => labels[Math.floor(next() * labels.length)]);
}

const SKLEARN_SCRIPT = `
import json, sys
from sklearn.metrics import f1_score, accuracy_score, precision_recall_fscore_support
out = []
for case in json.load(sys.stdin):
    g, p, na = case['gold'], case['pred'], case['na']
    labels = sorted(set(g) | set(p))
    pr, rc, f, s = precision_recall_fscore_support(g, p, labels=labels, zero_division=0)
    non_na = [l for l in labels if l != na]
    out.append({'accuracy': accuracy_score(g, p), 'macro': f1_score(g, p, average='macro', zero_division=0),
                'micro': f1_score(g, p, labels=non_na, average='micro', zero_division=0) if non_na else 0.0,
                'per': {l: [pr[i], rc[i], f[i], int(s[i])] for i, l in enumerate(labels)}})
print(json.dumps(out))
`;
const probe = spawnSync('/usr/bin/python3', ['-c', 'import sklearn'], { encoding: 'utf8' });
const HAVE_SKLEARN = probe.status === 0;

test(
  'matches scikit-learn on random label arrays',
  { skip: !HAVE_SKLEARN && 'needs python3-sklearn (apt-get install python3-sklearn)' },
  () => {
    const names = ['NA', 'born_in', 'works_for', 'capital_of', 'x', 'y'];
    const cases = Array.from({ length: 40 }, (_, i) => {
      const n = 1 + ((i * 37) % 120);
      // Gold and pred draw from overlapping but different label sets, so labels only in one side occur.
      return {
        gold: randomLabels(2 * i + 1, n, names.slice(0, 4 + (i % 3))),
        pred: randomLabels(2 * i + 2, n, names.slice(i % 2)),
        na: 'NA',
      };
    });
    const res = spawnSync('/usr/bin/python3', ['-c', SKLEARN_SCRIPT], {
      input: JSON.stringify(cases),
      encoding: 'utf8',
    });
    assert.equal(res.status, 0, res.stderr);
    const want = JSON.parse(res.stdout) as Array<{
      accuracy: number;
      macro: number;
      micro: number;
      per: Record<string, number[]>;
    }>;
    cases.forEach((c, i) => {
      const m = computeMetrics({ gold: c.gold, pred: c.pred, na_label: c.na });
      // sklearn sums per-label F1 with numpy (pairwise) and may use a different F1 formula: 1e-12 covers that.
      close(m.accuracy, want[i].accuracy, `case ${i} accuracy`);
      close(m.macro_f1, want[i].macro, `case ${i} macro`);
      close(m.micro_f1, want[i].micro, `case ${i} micro`);
      for (const [label, [p, r, f, s]] of Object.entries(want[i].per)) {
        const got = m.per_relation[label];
        close(got.precision, p, `case ${i} ${label} P`);
        close(got.recall, r, `case ${i} ${label} R`);
        close(got.f1, f, `case ${i} ${label} F1`);
        assert.equal(got.support, s);
      }
    });
  },
);
