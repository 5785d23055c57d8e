// entityMetrics against seqeval itself (1.2.2, default mode) on random tag sequences that mix every prefix, bare
// prefixes and type changes; runs only where /usr/bin/python3 can import seqeval (it is not packaged for Debian).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { entityMetrics, type EntityMetricBlock } from '../../src/metrics/index.ts';
import { seqevalChunks } from '../../src/data/index.ts';

const probe = spawnSync('/usr/bin/python3', ['-c', 'import seqeval'], { encoding: 'utf8' });
const skip =
  probe.status !== 0 && 'needs seqeval importable by /usr/bin/python3 (pip install seqeval==1.2.2)';

const TAGS = [
  'O',
  'O',
  'O',
  'B-A',
  'I-A',
  'B-B',
  'I-B',
  'E-A',
  'S-B',
  'M-A',
  'I-C',
  'E-C',
  'S-A',
  'B',
  'I',
  'M-B',
];

/** Deterministic tag sequences (mulberry32). */
function randomSentences(seed: number, n: number): string[][] {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: n }, () =>
    Array.from({ length: 1 + Math.floor(rand() * 12) }, () => TAGS[Math.floor(rand() * TAGS.length)]),
  );
}

const SCRIPT = `
import json, sys, warnings
warnings.simplefilter('ignore')
from seqeval.metrics import classification_report
from seqeval.metrics.sequence_labeling import get_entities
out = []
for c in json.load(sys.stdin):
    r = classification_report(c['gold'], c['pred'], output_dict=True)
    out.append({
        'report': {k: {m: float(v) for m, v in row.items()} for k, row in r.items()},
        'entities': [list(e) for e in get_entities(c['gold'])],
    })
print(json.dumps(out))
`;

// seqeval averages with numpy (pairwise sums): 1e-12 covers the order of additions.
const EPS = 1e-12;

test('matches seqeval 1.2.2 on random tag sequences', { skip }, () => {
  const cases = Array.from({ length: 40 }, (_, i) => {
    const gold = randomSentences(2 * i + 1, 1 + (i % 9) * 4);
    // pred: gold with some tags replaced, so that most entities match and some do not
    const pred = gold.map((s, k) =>
      s.map((t, j) => ((j + k + i) % 3 === 0 ? TAGS[(j * 7 + i) % TAGS.length] : t)),
    );
    return { gold, pred };
  });
  const res = spawnSync('/usr/bin/python3', ['-c', SCRIPT], {
    input: JSON.stringify(cases),
    encoding: 'utf8',
  });
  assert.equal(res.status, 0, res.stderr);
  const want = JSON.parse(res.stdout) as Array<{
    report: Record<string, { precision: number; recall: number; 'f1-score': number; support: number }>;
    entities: Array<[string, number, number]>;
  }>;
  cases.forEach((c, i) => {
    const flat = c.gold.flatMap((s) => [...s, 'O']);
    assert.deepEqual(seqevalChunks(flat), want[i].entities, `case ${i}: get_entities`);
    const got: EntityMetricBlock = entityMetrics(c);
    const rows: Record<string, [number, number, number, number]> = {};
    for (const [t, s] of Object.entries(got.per_type)) rows[t] = [s.precision, s.recall, s.f1, s.support];
    for (const avg of ['micro', 'macro', 'weighted'] as const)
      rows[`${avg} avg`] = [got[`${avg}_precision`], got[`${avg}_recall`], got[`${avg}_f1`], got.support];
    assert.deepEqual(Object.keys(rows).sort(), Object.keys(want[i].report).sort(), `case ${i}: rows`);
    for (const [k, w] of Object.entries(want[i].report)) {
      const g = rows[k];
      [w.precision, w.recall, w['f1-score'], w.support].forEach((v, j) =>
        assert.ok(Math.abs(g[j] - v) <= EPS, `case ${i} ${k}[${j}]: ${g[j]} != ${v}`),
      );
    }
  });
});
