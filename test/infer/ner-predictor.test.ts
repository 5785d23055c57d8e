// The NER predict path without a model, as NerPredictor calls data/ner (sentenceOfText, predictedEntities): text →
// tokens with code-point offsets, tags → seqeval's entities as code-point spans, the ONNX reading of a logits row, and a split's scores from predicted tag ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tagOfLogits } from '../../src/infer/index.ts';
import { predictedEntities, sentenceOfText } from '../../src/data/index.ts';

const splitNerText = (text: string, unit: 'chars' | 'words') =>
  sentenceOfText(text, unit === 'chars' ? 'char' : 'word');
const entitiesOf = (o: {
  text: string;
  split: ReturnType<typeof splitNerText>;
  tags: string[];
  scores: number[];
}) => predictedEntities({ sentence: o.split, tags: o.tags, probs: o.scores });
import { scoreTokenTags, wordTags } from '../../src/session/index.ts';
import { entityMetrics } from '../../src/metrics/index.ts';
import { decodeSpans, type NerSentence } from '../../src/data/index.ts';

// Softmax of a few small logits in doubles: only rounding noise is allowed.
const EPS = 1e-12;

test('chars: one token per non-space code point, offsets in code points (an astral character counts one)', () => {
  const s = splitNerText('张 三𠀋在北京', 'chars');
  assert.deepEqual(s.tokens, ['张', '三', '𠀋', '在', '北', '京']);
  assert.deepEqual(s.offsets, [0, 2, 3, 4, 5, 6]);
});

test('words: runs of non-space characters with their code-point starts', () => {
  const s = splitNerText('  Obama  visited 𠀋Paris ', 'words');
  assert.deepEqual(s.tokens, ['Obama', 'visited', '𠀋Paris']);
  assert.deepEqual(s.offsets, [2, 9, 17]);
});

test("entities: seqeval's chunks as code-point spans, the score the mean of the tokens' probabilities", () => {
  const text = '𠀋张三在北京';
  const split = splitNerText(text, 'chars');
  const e = entitiesOf({
    text,
    split,
    tags: ['O', 'B-PER', 'I-PER', 'O', 'I-LOC', 'I-LOC'],
    scores: [1, 0.5, 0.7, 1, 0.9, 0.8],
  });
  assert.equal(e.length, 2);
  assert.deepEqual({ ...e[0], score: 0 }, { text: '张三', type: 'PER', start: 1, end: 3, score: 0 });
  assert.ok(Math.abs(e[0].score! - 0.6) <= EPS);
  // an I- after O starts an entity, as seqeval reads it
  assert.deepEqual({ ...e[1], score: 0 }, { text: '北京', type: 'LOC', start: 4, end: 6, score: 0 });
  const words = 'New York is big';
  const w = entitiesOf({
    text: words,
    split: splitNerText(words, 'words'),
    tags: ['B-LOC', 'I-LOC', 'O', 'O'],
    scores: [1, 1, 1, 1],
  });
  assert.deepEqual(w, [{ text: 'New York', type: 'LOC', start: 0, end: 8, score: 1 }]);
});

test('tagOfLogits: argmax and its softmax probability at a position of a [seq × labels] row', () => {
  const row = new Float32Array([0, 0, 0, /* position 1 */ 1, 3, 1]);
  const [id, p] = tagOfLogits(row, 1, 3);
  assert.equal(id, 1);
  const want = Math.exp(3) / (2 * Math.exp(1) + Math.exp(3));
  assert.ok(Math.abs(p - want) <= 1e-7, `${p} vs ${want}`); // float32 logits
});

function sentence(tokens: string[], tags: string[]): NerSentence {
  return {
    tokens,
    tags,
    spans: decodeSpans(tags).spans,
    irregular: 0,
    text: tokens.join(''),
    offsets: tokens.map((_, i) => i),
    file: 'x',
    line: 1,
  };
}

test('scoreTokenTags: the entity block is entityMetrics of the gold tags and the predicted ones; cut words are O', () => {
  const labels = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];
  const sentences = [
    sentence(['张', '三', '在', '北', '京'], ['B-PER', 'I-PER', 'O', 'B-LOC', 'I-LOC']),
    sentence(['李', '四'], ['B-PER', 'I-PER']),
  ];
  // the first sentence's window kept 4 of its 5 words
  const tags = [
    [1, 2, 0, 3],
    [1, 0],
  ];
  const s = scoreTokenTags({ sentences, tags, labels });
  const pred = [
    ['B-PER', 'I-PER', 'O', 'B-LOC', 'O'],
    ['B-PER', 'O'],
  ];
  assert.deepEqual(s.entity, entityMetrics({ gold: sentences.map((x) => x.tags), pred }));
  assert.equal(s.micro_f1, s.entity.micro_f1);
  assert.equal(s.accuracy, 5 / 7);
  assert.ok(Number.isNaN(s.loss));
  assert.throws(() => wordTags({ words: 1, tags: [0, 0], labels }), /2 tags for a sentence of 1 words/);
});
