// The NER bench's dictionary baseline: the training entities' most frequent type, longest match first, case-folded,
// scored by the same entity metrics as refit train's test split.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baselines, dictionaryTags, entityDictionary } from '../../bench/ner-dict-baseline.ts';
import type { NerSentence } from '../../src/data/index.ts';
import { seqevalChunks } from '../../src/data/index.ts';

const sentence = (pairs: string): NerSentence => {
  const tokens: string[] = [];
  const tags: string[] = [];
  for (const p of pairs.split(' ')) {
    const [tok, tag] = p.split('/');
    tokens.push(tok);
    tags.push(tag);
  }
  const spans = seqevalChunks(tags).map(([type, start, end]) => ({ type, start, end: end + 1 }));
  return { tokens, tags, spans, irregular: 0, text: tokens.join(' '), offsets: [], file: 'x', line: 1 };
};

test('the dictionary keeps each surface form with the type it had most often, matched longest first', () => {
  const train = [
    sentence('New/B-loc York/I-loc is/O big/O'),
    sentence('new/B-org york/I-org times/I-org and/O York/B-per'),
    sentence('York/B-loc again/O York/B-loc'),
  ];
  const dict = entityDictionary(train);
  assert.equal(dict.longest, 3);
  assert.equal(dict.types.get('york'), 'loc'); // loc twice, per once
  assert.deepEqual(dictionaryTags(['I', 'love', 'NEW', 'YORK', 'Times', 'in', 'York'], dict), [
    'O',
    'O',
    'B-org',
    'I-org',
    'I-org',
    'O',
    'B-loc',
  ]);
});

test('baselines: all O finds nothing; the dictionary scores exact type and span matches only', () => {
  const train = [sentence('Paris/B-loc is/O nice/O')];
  const test_ = [sentence('Paris/B-loc and/O Rome/B-loc'), sentence('paris/B-per !/O')];
  const b = baselines(train, test_);
  assert.equal(b.majority.entity.predicted, 0);
  assert.equal(b.majority.entity.micro_f1, 0);
  assert.equal(b.majority.accuracy, 2 / 5); // and, !
  assert.equal(b.dictionary.entries, 1);
  assert.equal(b.dictionary.entity.predicted, 2); // both Paris, as loc
  assert.equal(b.dictionary.entity.correct, 1); // the second is gold per
  assert.equal(b.dictionary.entity.micro_precision, 1 / 2);
  assert.equal(b.dictionary.entity.micro_recall, 1 / 3);
  assert.equal(b.dictionary.accuracy, 3 / 5); // Rome missed, paris tagged loc
});
