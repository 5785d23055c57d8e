// Tags → entities as seqeval's default mode reads them (seqeval 1.2.2's get_entities with end_of_chunk and
// start_of_chunk): one hand-traced case per rule, the odd ones included. Spans are token [start, end).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkTagOf, decodeSpans, nerLabelNames, parseTag, schemeOf } from '../../src/data/index.ts';

/** name, tags, the expected `TYPE start-end` spans, how many start on a tag other than B-/S-. */
const CASES: ReadonlyArray<[string, string[], string[], number]> = [
  ['seqeval docstring', ['B-PER', 'I-PER', 'O', 'B-LOC'], ['PER 0-2', 'LOC 3-4'], 0],
  ['I- after O starts an entity', ['O', 'I-PER', 'I-PER', 'O'], ['PER 1-3'], 1],
  ['I- first in the sentence', ['I-PER', 'O'], ['PER 0-1'], 1],
  [
    'a type change inside a chunk ends it and starts another',
    ['B-PER', 'I-LOC', 'I-LOC'],
    ['PER 0-1', 'LOC 1-3'],
    1,
  ],
  ['a chunk open at the sentence end ends there', ['O', 'B-PER', 'I-PER'], ['PER 1-3'], 0],
  ['B- after B- of the same type', ['B-PER', 'B-PER'], ['PER 0-1', 'PER 1-2'], 0],
  [
    'BIOES S-, B-…E-, S-',
    ['S-PER', 'B-LOC', 'I-LOC', 'E-LOC', 'S-ORG'],
    ['PER 0-1', 'LOC 1-4', 'ORG 4-5'],
    0,
  ],
  ['BIOES E- after O is a one-token entity', ['O', 'E-PER', 'O'], ['PER 1-2'], 1],
  ['BIOES I- after E- starts again', ['B-X', 'E-X', 'I-X'], ['X 0-2', 'X 2-3'], 1],
  ['BIOES E- after S- starts again', ['S-X', 'E-X'], ['X 0-1', 'X 1-2'], 1],
  ['BIOES B- never closed by E- still ends at O', ['B-X', 'I-X', 'O'], ['X 0-2'], 0],
  ['BMES B-, M-, E-, S-', ['B-X', 'M-X', 'E-X', 'S-Y'], ['X 0-3', 'Y 3-4'], 0],
  ['BMES M- then O: ended by the type change', ['B-X', 'M-X', 'O'], ['X 0-2'], 0],
  ['BMES M- after O: started by the type change', ['O', 'M-X', 'E-X'], ['X 1-3'], 1],
  // M- is in neither rule table: B- after M- starts a chunk without ending the open one, which is lost
  ['BMES B- after M- (seqeval drops the first chunk)', ['B-X', 'M-X', 'B-X', 'E-X'], ['X 2-4'], 0],
  ['all O', ['O', 'O'], [], 0],
  [
    'types with dots and dashes',
    ['B-PER.NAM', 'I-PER.NAM', 'B-creative-work'],
    ['PER.NAM 0-2', 'creative-work 2-3'],
    0,
  ],
];

for (const [name, tags, want, irregular] of CASES) {
  test(`decodeSpans: ${name}`, () => {
    const got = decodeSpans(tags);
    assert.deepEqual(
      got.spans.map((s) => `${s.type} ${s.start}-${s.end}`),
      want,
    );
    assert.equal(got.irregular, irregular);
  });
}

test("seqeval's tag split: first character, then what follows the first '-' ('_' when empty)", () => {
  assert.deepEqual(chunkTagOf('B-PER'), { tag: 'B', type: 'PER' });
  assert.deepEqual(chunkTagOf('O'), { tag: 'O', type: '_' });
  assert.deepEqual(chunkTagOf('I-'), { tag: 'I', type: '_' });
  assert.deepEqual(chunkTagOf('B-a-b'), { tag: 'B', type: 'a-b' });
});

test('tag shapes and schemes', () => {
  assert.deepEqual(parseTag('B-GPE.NAM'), { prefix: 'B', type: 'GPE.NAM' });
  assert.equal(parseTag('PER'), null);
  assert.equal(parseTag('B_PER'), null);
  assert.equal(parseTag('b-PER'), null);
  assert.equal(schemeOf(new Set(['O', 'B', 'I'])), 'BIO');
  assert.equal(schemeOf(new Set(['I', 'O'])), 'BIO');
  assert.equal(schemeOf(new Set(['B', 'I', 'E', 'S', 'O'])), 'BIOES');
  assert.equal(schemeOf(new Set(['B', 'M', 'E', 'S', 'O'])), 'BMES');
  assert.deepEqual(schemeOf(new Set(['B', 'M', 'I'])), { clash: 'BMES (M-) and BIO/BIOES (I-)' });
});

test('label names: O first, then by type and B, I, M, E, S; or the labels list as given', () => {
  assert.deepEqual(nerLabelNames({ tags: ['I-PER', 'O', 'B-LOC', 'B-PER', 'S-PER'] }), [
    'O',
    'B-LOC',
    'B-PER',
    'I-PER',
    'S-PER',
  ]);
  assert.deepEqual(nerLabelNames({ tags: [], labels: ['B-PER', 'I-PER', 'O', '[CLS]', '[SEP]'] }), [
    'O',
    'B-PER',
    'I-PER',
  ]);
});
