// The SemEval official score on the real test answer key (../shared), against a figure produced by the
// official Perl scorer v1.2's official-score path on the same deterministic perturbation of the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { computeMetrics, semevalOfficialF1 } from '../../src/metrics/index.ts';

const SEMEVAL = fileURLToPath(new URL('../../../shared/assets/semeval2010-task8', import.meta.url));
const skip = !existsSync(SEMEVAL) && 'needs ../shared (datasets)';

/** Lines of a shared text file (CRLF tolerated; the file is only read). */
const lines = (name: string): string[] =>
  readFileSync(`${SEMEVAL}/${name}`, 'utf8').replace(/\r/g, '').trim().split('\n');

test('official score matches the Perl scorer on the real answer key', { skip }, () => {
  const gold = lines('answer_keys.txt').map((l) => l.split('\t')[1]);
  const labels = lines('label.txt');
  assert.equal(gold.length, 2717);
  const flip = (g: string) =>
    g.includes('(e1,e2)') ? g.replace('(e1,e2)', '(e2,e1)') : g.replace('(e2,e1)', '(e1,e2)');
  // Every 7th row with the direction flipped, every 11th Other, every 13th a fixed other label.
  const pred = gold.map((g, i) =>
    i % 7 === 0 ? flip(g) : i % 11 === 0 ? 'Other' : i % 13 === 0 ? labels[i % labels.length] : g,
  );
  // semeval2010_task8_scorer-v1.2.pl prints "macro-averaged F1 = 74.69%" for these files; full precision
  // from its code path: 74.6921924435053. Tolerance 1e-12 (same double arithmetic, same summation order).
  assert.ok(Math.abs(100 * semevalOfficialF1(gold, pred) - 74.6921924435053) < 1e-12);
  assert.equal(semevalOfficialF1(gold, gold), 1);
  assert.equal(
    semevalOfficialF1(
      gold,
      gold.map(() => 'Other'),
    ),
    0,
  );
  const m = computeMetrics({ gold, pred, na_label: 'Other', semeval: true });
  assert.equal(m.semeval_official_f1, semevalOfficialF1(gold, pred));
  assert.equal(m.confusion.labels.length, 19);
});
