// NER encoding: one label id per word on its first sub-token (-100 on the rest, [CLS] and [SEP]), a character per
// token for Chinese, [UNK] for a word the tokenizer drops, truncation to max_seq_len, and the encoded file's
// arrays read back (weibo-ner, wnut17 and the BERT vocabularies in ../shared).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nerLabelNames, predictedEntities, readNerDataset, sentenceOfText } from '../../src/data/index.ts';
import { Vocab, WordPieceTokenizer } from '../../src/tokenize/index.ts';
import {
  IGNORE_LABEL,
  encodeNerSentence,
  readNerEncoded,
  wordPieceIds,
  wordPredictions,
  writeNerDataset,
} from '../../src/encode/index.ts';
import { EN_VOCAB, NEEDS_SHARED, ZH_VOCAB, asset } from './helpers.ts';

const skip = NEEDS_SHARED;
const zh = () => new WordPieceTokenizer(Vocab.fromFile(ZH_VOCAB), { lowercase: true });
const en = () => new WordPieceTokenizer(Vocab.fromFile(EN_VOCAB), { lowercase: true });
const LABELS = new Map(['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'].map((t, i) => [t, i]));
const X = IGNORE_LABEL;

test('Chinese: one position per character, its tag id there', { skip }, () => {
  const t = zh();
  const words = [...'张三在2015年去北京'];
  const tags = ['B-PER', 'I-PER', 'O', 'O', 'O', 'O', 'O', 'O', 'O', 'B-LOC', 'I-LOC'];
  const e = encodeNerSentence({ tokenizer: t, words, tags, labels: LABELS, max_seq_len: 64 });
  // digits stay one position each: the sentence is not tokenized as a whole ("2015" would be one token)
  assert.equal(e.ids.length, words.length + 2);
  assert.deepEqual(e.label_ids, [X, 1, 2, 0, 0, 0, 0, 0, 0, 0, 3, 4, X]);
  assert.deepEqual(e.word_pos, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.equal(e.ids[0], t.vocab.cls_id);
  assert.equal(e.ids.at(-1), t.vocab.sep_id);
  assert.equal(e.truncated, false);
});

test('English: the first sub-token of a word is labelled, the rest are -100', { skip }, () => {
  const t = en();
  const words = ['@paulwalk', 'visited', 'Empire', 'State'];
  const tags = ['B-PER', 'O', 'B-LOC', 'I-LOC'];
  const pieces = words.map((w) => wordPieceIds(t, w).length);
  assert.ok(pieces[0] > 1, 'the handle splits into several sub-tokens');
  const e = encodeNerSentence({ tokenizer: t, words, tags, labels: LABELS, max_seq_len: 64 });
  const want = [X];
  words.forEach((_, w) => want.push(LABELS.get(tags[w])!, ...Array(pieces[w] - 1).fill(X)));
  want.push(X);
  assert.deepEqual(e.label_ids, want);
  assert.deepEqual(
    e.word_pos.map((p) => e.label_ids[p]),
    tags.map((g) => LABELS.get(g)),
  );
});

test(
  'a word the tokenizer drops entirely (U+200B, private use) is [UNK], keeping its position',
  { skip },
  () => {
    const t = zh();
    assert.deepEqual(wordPieceIds(t, '\u200b'), [t.vocab.unk_id]);
    assert.deepEqual(wordPieceIds(t, '\ue305'), [t.vocab.unk_id]);
    const e = encodeNerSentence({
      tokenizer: t,
      words: ['好', '\ue305', '京'],
      labels: LABELS,
      max_seq_len: 16,
    });
    assert.equal(e.ids.length, 5);
    assert.deepEqual(e.label_ids, [X, X, X, X, X], 'no tags: prediction input');
  },
);

test('truncation keeps the first max_seq_len - 2 sub-tokens; later words have no position', { skip }, () => {
  const e = encodeNerSentence({
    tokenizer: zh(),
    words: [...'张三去北京'],
    tags: ['B-PER', 'I-PER', 'O', 'B-LOC', 'I-LOC'],
    labels: LABELS,
    max_seq_len: 5,
  });
  assert.equal(e.ids.length, 5);
  assert.deepEqual(e.label_ids, [X, 1, 2, 0, X]);
  assert.deepEqual(e.word_pos, [1, 2, 3, -1, -1]);
  assert.equal(e.truncated, true);
});

test('a tag outside the labels is named with its line', { skip }, () => {
  assert.throws(
    () =>
      encodeNerSentence({
        tokenizer: zh(),
        words: ['张', '三'],
        tags: ['B-PER', 'I-ORG'],
        labels: LABELS,
        max_seq_len: 16,
        where: { path: 'train.txt', line: 7 },
      }),
    { message: "train.txt:8: tag 'I-ORG' is not one of the 5 labels" },
  );
});

for (const [file, vocab] of [
  ['weibo-ner/dev.txt', ZH_VOCAB],
  ['wnut17/emerging.dev.conll', EN_VOCAB],
] as const) {
  test(`${file}: the encoded file holds each word's tag id at its first sub-token`, { skip }, async () => {
    const d = await readNerDataset({ path: asset(file) });
    const tokenizer = new WordPieceTokenizer(Vocab.fromFile(vocab), { lowercase: true });
    const labels = nerLabelNames({ tags: d.tags });
    const cache_dir = mkdtempSync(path.join(tmpdir(), 'refit-ner-ds-'));
    const w = await writeNerDataset({
      sentences: d.sentences,
      labels,
      tokenizer,
      max_seq_len: 128,
      cache_dir,
    });
    assert.equal(w.n, d.sentences.length);
    const v = readNerEncoded(w.path);
    assert.equal(v.header.task, 'ner');
    assert.deepEqual(v.header.labels, labels);
    let kept = 0;
    d.sentences.forEach((s, i) => {
      const at = Number(v.offsets[i]);
      const ws = Number(v.word_offsets[i]);
      assert.equal(Number(v.word_offsets[i + 1]) - ws, s.tokens.length);
      s.tags.forEach((tag, k) => {
        const p = v.word_pos[ws + k];
        if (p < 0) return;
        kept++;
        assert.equal(labels[v.label_ids[at + p]], tag);
      });
      const labelled = v.label_ids.subarray(at, at + v.lengths[i]).filter((l) => l !== IGNORE_LABEL).length;
      assert.equal(labelled, v.word_pos.subarray(ws, ws + s.tokens.length).filter((p) => p >= 0).length);
    });
    assert.ok(kept > 0);
    const again = await writeNerDataset({
      sentences: d.sentences,
      labels,
      tokenizer,
      max_seq_len: 128,
      cache_dir,
    });
    assert.equal(again.from_cache, true);
    assert.equal(again.truncated, w.truncated);
  });
}

test('predictions back to words and code-point entities with a score', () => {
  // positions: [CLS] 张 三 去 [SEP]; the last word was cut by truncation
  const labels = ['O', 'B-PER', 'I-PER'];
  const { tags, probs } = wordPredictions({
    word_pos: [1, 2, 3, -1],
    pred: [0, 1, 2, 0, 0],
    prob: [1, 0.9, 0.7, 0.8, 1],
    labels,
  });
  assert.deepEqual(tags, ['B-PER', 'I-PER', 'O', 'O']);
  const sentence = sentenceOfText('😀 张三 去京', 'char');
  assert.deepEqual(sentence.tokens, ['😀', '张', '三', '去', '京']);
  const entities = predictedEntities({ sentence, tags: ['O', ...tags], probs: [1, ...probs] });
  assert.equal(entities.length, 1);
  assert.deepEqual(
    { ...entities[0], score: Number(entities[0].score!.toFixed(12)) },
    {
      text: '张三',
      type: 'PER',
      start: 2,
      end: 4,
      score: 0.8,
    },
  );
  const words = sentenceOfText('  Empire State  Building ', 'word');
  assert.deepEqual(
    [words.tokens, words.offsets],
    [
      ['Empire', 'State', 'Building'],
      [2, 9, 16],
    ],
  );
  assert.deepEqual(predictedEntities({ sentence: words, tags: ['B-LOC', 'I-LOC', 'I-LOC'] }), [
    { text: 'Empire State  Building', type: 'LOC', start: 2, end: 24 },
  ]);
});
