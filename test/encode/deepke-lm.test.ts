// DeepKE's LM input for the deepke-lm head (tools/preprocess.py `_lm_serialize`): mentions replaced by type words at
// the annotated offsets, then `[SEP] head [SEP] tail`, as BertTokenizer.encode gives it; truncation keeps the
// appended mentions; the types come from the example first, the gold relation second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readDataset, type Example } from '../../src/data/index.ts';
import { Vocab, WordPieceTokenizer } from '../../src/tokenize/index.ts';
import { deepkeLmTypes, encodeDeepkeLm, encodeForHead, defaultMarkers } from '../../src/encode/index.ts';
import { EN_VOCAB, NEEDS_SHARED, ZH_VOCAB, asset, example } from './helpers.ts';

const zh = () => {
  const vocab = Vocab.fromFile(ZH_VOCAB);
  return { vocab, tok: new WordPieceTokenizer(vocab, { lowercase: true }) };
};
const words = (vocab: Vocab, ids: number[]) => ids.map((i) => vocab.token(i)).join(' ');

test(
  'the DeepKE sample: [CLS] + the typed sentence + [SEP] head [SEP] tail [SEP], equal to tokenizing the joined text',
  { skip: NEEDS_SHARED },
  async () => {
    const { vocab, tok } = zh();
    const { examples } = await readDataset({ path: asset('deepke-re-standard/train.csv') });
    const types = { 出生地: { head_type: '人物', tail_type: '地点' } };
    const first = examples[0]; // 明朝末年抗清英雄黄得功，本姓王，安徽合肥人后改姓黄,出生地,黄得功,8,安徽合肥,16
    const enc = encodeDeepkeLm({
      tokenizer: tok,
      example: first,
      max_seq_len: 512,
      types: deepkeLmTypes(first, { relation_types: types }),
    });
    assert.equal(
      words(vocab, enc.ids),
      '[CLS] 明 朝 末 年 抗 清 英 雄 人 物 ， 本 姓 王 ， 地 点 人 后 改 姓 黄 [SEP] 黄 得 功 [SEP] 安 徽 合 肥 [SEP]',
    );
    assert.deepEqual([enc.head_pos, enc.tail_pos, enc.truncated], [9, 16, false]);
    for (const ex of examples.slice(0, 300)) {
      const t = { head: '人物', tail: '地点' };
      const got = encodeDeepkeLm({ tokenizer: tok, example: ex, max_seq_len: 512, types: t }).ids;
      // DeepKE's string: substitute, append with the literal "[SEP]", let the tokenizer cut out the special token.
      const [a, b] = ex.head.start < ex.tail.start ? [ex.head, ex.tail] : [ex.tail, ex.head];
      if (a.end > b.start) continue; // nested spans: see the next test
      const word = (m: typeof a) => (m === ex.head ? t.head : t.tail);
      const sentence =
        ex.text.slice(0, a.start) + word(a) + ex.text.slice(a.end, b.start) + word(b) + ex.text.slice(b.end);
      const joined = `${sentence}[SEP]${ex.head.text}[SEP]${ex.tail.text}`;
      assert.deepEqual(got, [vocab.cls_id, ...tok.ids(joined), vocab.sep_id], `${ex.file}:${ex.line}`);
    }
  },
);

test(
  'offsets, not first occurrences; nested spans replace the head only; no types keeps the text',
  { skip: NEEDS_SHARED },
  () => {
    const { vocab, tok } = zh();
    const enc = (ex: Example, types: { head?: string; tail?: string }) =>
      words(vocab, encodeDeepkeLm({ tokenizer: tok, example: ex, max_seq_len: 64, types }).ids);
    // The second 张三 is the annotated head (DeepKE would replace the first one).
    assert.equal(
      enc(example('张三说张三生于北京', [3, 5], '北京'), { head: '人', tail: '城' }),
      '[CLS] 张 三 说 人 生 于 城 [SEP] 张 三 [SEP] 北 京 [SEP]',
    );
    // Tail inside the head: DeepKE's head-first replace leaves no tail to replace.
    assert.equal(
      enc(example('北京大学在北京', '北京大学', '北京'), { head: '校', tail: '城' }),
      '[CLS] 校 在 北 京 [SEP] 北 京 大 学 [SEP] 北 京 [SEP]',
    );
    assert.equal(
      enc(example('北京大学在北京', '北京大学', [5, 7]), {}),
      '[CLS] 北 京 大 学 在 北 京 [SEP] 北 京 大 学 [SEP] 北 京 [SEP]',
    );
  },
);

test("types: the example's own first, then the gold relation's; unlabelled examples keep their text", () => {
  const ex = example('a b c', 'a', 'c', { relation: 'born_in' });
  const gold = { relation_types: { born_in: { head_type: 'PER', tail_type: 'LOC' } } };
  assert.deepEqual(deepkeLmTypes(ex, gold), { head: 'PER', tail: 'LOC' });
  assert.deepEqual(deepkeLmTypes({ ...ex, head: { ...ex.head, type: 'ORG' } }, gold), {
    head: 'ORG',
    tail: 'LOC',
  });
  assert.deepEqual(deepkeLmTypes({ ...ex, relation: undefined }, gold), { head: undefined, tail: undefined });
  assert.deepEqual(deepkeLmTypes(ex, {}), { head: undefined, tail: undefined });
});

test(
  'truncation keeps the appended mentions and a window around the entities',
  { skip: NEEDS_SHARED },
  () => {
    const vocab = Vocab.fromFile(EN_VOCAB);
    const tok = new WordPieceTokenizer(vocab, { lowercase: true });
    const text = `${'lorem '.repeat(40)}alice met bob ${'ipsum '.repeat(40)}`.trim();
    const ex = example(text, 'alice', 'bob');
    const enc = encodeDeepkeLm({
      tokenizer: tok,
      example: ex,
      max_seq_len: 16,
      types: { head: 'person', tail: 'person' },
    });
    assert.equal(enc.ids.length, 16);
    assert.equal(enc.truncated, true);
    const w = enc.ids.map((i) => vocab.token(i));
    assert.deepEqual(w.slice(-5), ['[SEP]', 'alice', '[SEP]', 'bob', '[SEP]']);
    assert.ok(w.slice(1, 11).join(' ').includes('person met person'), w.join(' '));
    assert.equal(w[enc.head_pos], 'person');
    // encodeForHead picks this scheme for deepke-lm and markers otherwise.
    const markers = defaultMarkers(vocab, { typed: false });
    assert.deepEqual(
      encodeForHead({ tokenizer: tok, example: ex, max_seq_len: 16, markers, deepke_lm: {} })
        .ids.slice(-5)
        .map((i) => vocab.token(i)),
      ['[SEP]', 'alice', '[SEP]', 'bob', '[SEP]'],
    );
    assert.ok(
      encodeForHead({ tokenizer: tok, example: ex, max_seq_len: 16, markers }).ids.includes(
        vocab.id('[unused1]')!,
      ),
    );
  },
);
