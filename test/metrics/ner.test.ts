// Entity-level metrics as seqeval's default mode computes them (what DeepKE's standard NER prints): seqeval's own
// docstring example, its report text, a predicted type absent from gold, sentence joins, and the span scorer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entityMetrics, entityReport, pyFixed, spanMetrics } from '../../src/metrics/index.ts';
import { decodeSpans } from '../../src/data/index.ts';

// Ratios of small counts computed in doubles: only rounding noise is allowed.
const EPS = 1e-12;
const close = (a: number, b: number, msg: string) =>
  assert.ok(Math.abs(a - b) <= EPS, `${msg}: ${a} != ${b}`);

const TRUE = [
  ['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'],
  ['B-PER', 'I-PER', 'O'],
];
const PRED = [
  ['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O'],
  ['B-PER', 'I-PER', 'O'],
];

test("seqeval's docstring example: MISC 0, PER 1, every average 0.5", () => {
  const m = entityMetrics({ gold: TRUE, pred: PRED });
  assert.deepEqual(m.per_type, {
    MISC: { precision: 0, recall: 0, f1: 0, support: 1 },
    PER: { precision: 1, recall: 1, f1: 1, support: 1 },
  });
  for (const k of ['micro', 'macro', 'weighted'] as const)
    for (const v of ['precision', 'recall', 'f1'] as const) close(m[`${k}_${v}`], 0.5, `${k}_${v}`);
  assert.deepEqual([m.support, m.predicted, m.correct], [2, 2, 1]);
});

test("the report is seqeval's classification_report text (its docstring, digits=2)", () => {
  const want = [
    '              precision    recall  f1-score   support',
    '',
    '        MISC       0.00      0.00      0.00         1',
    '         PER       1.00      1.00      1.00         1',
    '',
    '   micro avg       0.50      0.50      0.50         2',
    '   macro avg       0.50      0.50      0.50         2',
    'weighted avg       0.50      0.50      0.50         2',
    '',
  ].join('\n');
  assert.equal(entityReport(entityMetrics({ gold: TRUE, pred: PRED }), 2), want);
});

test('a predicted type absent from gold is a row with support 0 and counts in the macro average', () => {
  const m = entityMetrics({ gold: [['B-PER', 'O']], pred: [['B-PER', 'B-LOC']] });
  assert.deepEqual(Object.keys(m.per_type), ['LOC', 'PER']);
  assert.deepEqual(m.per_type.LOC, { precision: 0, recall: 0, f1: 0, support: 0 });
  close(m.micro_precision, 0.5, 'micro p');
  close(m.micro_recall, 1, 'micro r');
  close(m.micro_f1, 2 / 3, 'micro f1');
  close(m.macro_f1, 0.5, 'macro f1');
  close(m.weighted_f1, 1, 'weighted f1 (LOC weighs 0)');
});

test('sentences are joined with O: an entity never runs across a sentence end', () => {
  // gold: one PER at the end of sentence 1, one at the start of sentence 2 (read from an I-)
  const gold = [
    ['O', 'B-PER'],
    ['I-PER', 'O'],
  ];
  const m = entityMetrics({ gold, pred: gold });
  assert.equal(m.support, 2);
  close(m.micro_f1, 1, 'micro f1');
});

test('a boundary or type error is wrong; an I- start is read as seqeval reads it', () => {
  const gold = [['B-LOC', 'I-LOC', 'O', 'B-PER']];
  const pred = [['B-LOC', 'O', 'O', 'I-PER']];
  const m = entityMetrics({ gold, pred });
  assert.deepEqual([m.support, m.predicted, m.correct], [2, 2, 1]);
  assert.equal(m.per_type.PER.f1, 1);
  assert.equal(m.per_type.LOC.f1, 0);
});

test('no entities at all: every score is 0', () => {
  const m = entityMetrics({ gold: [['O']], pred: [['O']] });
  assert.deepEqual([m.micro_f1, m.macro_f1, m.weighted_f1, m.support], [0, 0, 0, 0]);
});

test('the span scorer equals the tag scorer on the spans the tags make', () => {
  const gold = [...TRUE, ['S-X', 'B-Y', 'E-Y', 'O']];
  const pred = [...PRED, ['S-X', 'B-Y', 'I-Y', 'O']];
  const spans = (all: string[][]) => all.map((t) => decodeSpans(t).spans);
  assert.deepEqual(spanMetrics({ gold: spans(gold), pred: spans(pred) }), entityMetrics({ gold, pred }));
});

test("pyFixed rounds an exact tie to even as Python's format does", () => {
  assert.equal(pyFixed(0.125, 2), '0.12');
  assert.equal(pyFixed(0.375, 2), '0.38');
  assert.equal(pyFixed(0.03125, 4), '0.0312');
  assert.equal(pyFixed(2 / 3, 4), '0.6667');
  assert.equal(pyFixed(1, 4), '1.0000');
});
