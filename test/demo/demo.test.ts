// The generated demo dataset: determinism, exact spans, balance, and a vocabulary that covers every word
// (checked with a plain split and with refit's own WordPiece tokenizer: no [UNK]).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEMO_PREDICT_INPUTS,
  DEMO_RELATIONS,
  basicWords,
  generateDemoDataset,
  toDeepkeCsv,
  toRelationCsv,
} from '../../src/demo/index.ts';
import { Vocab, WordPieceTokenizer } from '../../src/tokenize/index.ts';

const SIZES = { train: 1200, valid: 200, test: 200 };

test('same seed → same dataset; another seed → another; split sizes do not leak into other splits', () => {
  const a = generateDemoDataset({ seed: 7, ...SIZES });
  const b = generateDemoDataset({ seed: 7, ...SIZES });
  assert.deepEqual(a, b);
  const c = generateDemoDataset({ seed: 8, ...SIZES });
  assert.notDeepEqual(
    a.train.map((e) => e.text),
    c.train.map((e) => e.text),
  );
  const small = generateDemoDataset({ seed: 7, train: 10, valid: 200, test: 5 });
  assert.deepEqual(small.valid, a.valid);
  assert.deepEqual(small.train, a.train.slice(0, 10));
  assert.equal(a.train.length, 1200);
  assert.equal(a.test.length, 200);
});

test('head and tail spans reproduce the entity text and never overlap', () => {
  const d = generateDemoDataset({ seed: 1, ...SIZES });
  for (const e of [...d.train, ...d.valid, ...d.test]) {
    assert.equal(e.text.slice(e.head.start, e.head.end), e.head.text, `${e.file}:${e.line}`);
    assert.equal(e.text.slice(e.tail.start, e.tail.end), e.tail.text, `${e.file}:${e.line}`);
    assert.ok(
      e.head.end <= e.tail.start || e.tail.end <= e.head.start,
      `${e.file}:${e.line} overlapping entities`,
    );
    assert.ok(d.relations.names.includes(e.relation!));
  }
});

test('relations: NA first and every relation well represented in train', () => {
  const d = generateDemoDataset({ seed: 1, ...SIZES });
  assert.deepEqual(d.relations, { names: [...DEMO_RELATIONS], na_label: 'no_relation' });
  const counts = new Map<string, number>();
  for (const e of d.train) counts.set(e.relation!, (counts.get(e.relation!) ?? 0) + 1);
  assert.equal(counts.size, 6);
  for (const [rel, n] of counts) assert.ok(n >= 120, `${rel}: ${n} train examples`);
});

test('every word of every text is in the vocab, and the WordPiece tokenizer yields no [UNK]', () => {
  const d = generateDemoDataset({ seed: 3, ...SIZES });
  const vocabSet = new Set(d.vocab_lines);
  assert.equal(vocabSet.size, d.vocab_lines.length, 'no duplicate lines');
  for (const t of ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '[unused1]', '[unused4]', '[unused12]'])
    assert.ok(vocabSet.has(t), t);
  const texts = [...d.train, ...d.valid, ...d.test]
    .map((e) => e.text)
    .concat(DEMO_PREDICT_INPUTS.map((p) => p.text));
  for (const text of texts)
    for (const w of basicWords(text)) assert.ok(vocabSet.has(w), `'${w}' of "${text}" not in the vocab`);
  const tokenizer = new WordPieceTokenizer(Vocab.fromLines(d.vocab_lines), { lowercase: true });
  const unk = tokenizer.ids('[UNK]')[0];
  for (const text of texts) assert.ok(!tokenizer.ids(text).includes(unk), `[UNK] in "${text}"`);
  // A word outside the demo still tokenizes into character pieces rather than [UNK].
  assert.ok(!tokenizer.ids('zyxwvut').includes(unk));
});

test('prediction inputs name entities that occur in their text', () => {
  for (const p of DEMO_PREDICT_INPUTS) {
    assert.ok(p.text.includes(p.head) && p.text.includes(p.tail), p.text);
    assert.ok(DEMO_RELATIONS.includes(p.expected), p.expected);
  }
});

test('DeepKE CSV export quotes sentences with commas and keeps offsets', () => {
  const d = generateDemoDataset({ seed: 1, train: 200, valid: 0, test: 0 });
  const csv = toDeepkeCsv(d.train);
  const lines = csv.trimEnd().split('\n');
  assert.equal(lines[0], 'sentence,relation,head,head_offset,tail,tail_offset');
  assert.equal(lines.length, 201);
  const withComma = d.train.findIndex((e) => e.text.includes(','));
  assert.ok(withComma >= 0);
  assert.ok(lines[withComma + 1].startsWith(`"${d.train[withComma].text}",`));
  assert.equal(toRelationCsv(d.relations).split('\n')[1], 'None,None,no_relation,0');
});
