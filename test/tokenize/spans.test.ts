// Every token's span points at the original text it came from, through lower-casing, NFC/NFD and dropped characters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Vocab, WordPieceTokenizer } from '../../src/tokenize/index.ts';
import { EN_VOCAB, NEEDS_SHARED, SHARED, ZH_VOCAB, readJsonlGz } from './helpers.ts';

/** What BasicTokenizer makes of a span: control characters dropped, NFC, lower-cased, accents stripped. */
function normalise(s: string, lowercase: boolean): string {
  let t = s.replace(/[\p{C}\u0000\ufffd]/gu, '').normalize('NFC');
  if (lowercase)
    t = t
      .toLowerCase()
      .normalize('NFD')
      .replace(/\p{Mn}/gu, '');
  return t;
}

/** Checks spans are ordered, inside the text, and cover text that normalises to (or contains) the piece. */
function checkSpans(tok: WordPieceTokenizer, text: string): string | null {
  const tokens = tok.tokenize(text);
  let prevEnd = 0;
  for (const t of tokens) {
    if (!(t.start >= 0 && t.start < t.end && t.end <= text.length)) return `bad span ${t.start}-${t.end}`;
    if (t.start < prevEnd && t.start !== tokens[tokens.indexOf(t) - 1]?.start)
      return `span ${t.start} goes back before ${prevEnd}`;
    prevEnd = Math.max(prevEnd, t.end);
    if (t.id === tok.vocab.unk_id) continue;
    const piece = tok.vocab.token(t.id).replace(/^##(?=.)/, '');
    const src = text.slice(t.start, t.end);
    const norm = normalise(src, tok.lowercase);
    if (src !== piece && norm !== piece && !(norm.includes(piece) && norm.length > piece.length))
      return `${JSON.stringify(src)} → ${JSON.stringify(piece)}`;
  }
  return null;
}

const HAND_CASES: Array<{
  name: string;
  text: string;
  lowercase: boolean;
  vocab: 'zh' | 'en';
  expect: Array<[string, number, number]>;
}> = [
  {
    name: 'ascii words and punctuation',
    vocab: 'en',
    lowercase: true,
    text: 'Hello, World!',
    expect: [
      ['hello', 0, 5],
      [',', 5, 6],
      ['world', 7, 12],
      ['!', 12, 13],
    ],
  },
  {
    name: 'accents stripped, span on the original',
    vocab: 'en',
    lowercase: true,
    text: 'Café',
    expect: [['cafe', 0, 4]],
  },
  {
    name: 'combining mark composed by NFC',
    vocab: 'en',
    lowercase: true,
    text: 'cafe\u0301 x',
    expect: [
      ['cafe', 0, 5],
      ['x', 6, 7],
    ],
  },
  {
    name: 'control characters dropped inside a word',
    vocab: 'en',
    lowercase: true,
    text: 'con\u0000trol',
    expect: [['control', 0, 8]],
  },
  {
    name: 'special tokens are cut out whole',
    vocab: 'en',
    lowercase: true,
    text: 'a[SEP]b',
    expect: [
      ['a', 0, 1],
      ['[SEP]', 1, 6],
      ['b', 6, 7],
    ],
  },
  {
    name: 'wordpiece continuation spans',
    vocab: 'en',
    lowercase: true,
    text: 'playing',
    expect: [['playing', 0, 7]],
  },
  {
    name: 'emoji (surrogate pair) is one [UNK]',
    vocab: 'en',
    lowercase: true,
    text: 'a 😀 b',
    expect: [
      ['a', 0, 1],
      ['[UNK]', 2, 4],
      ['b', 5, 6],
    ],
  },
  {
    name: 'Chinese characters one by one',
    vocab: 'zh',
    lowercase: true,
    text: '北京 大学',
    expect: [
      ['北', 0, 1],
      ['京', 1, 2],
      ['大', 3, 4],
      ['学', 4, 5],
    ],
  },
  {
    name: 'full-width punctuation split',
    vocab: 'zh',
    lowercase: true,
    text: '王，李',
    expect: [
      ['王', 0, 1],
      ['，', 1, 2],
      ['李', 2, 3],
    ],
  },
];

test('hand cases: tokens and spans', { skip: NEEDS_SHARED }, async (t) => {
  const toks = { zh: Vocab.fromFile(ZH_VOCAB), en: Vocab.fromFile(EN_VOCAB) };
  for (const c of HAND_CASES) {
    await t.test(c.name, () => {
      const tok = new WordPieceTokenizer(toks[c.vocab], { lowercase: c.lowercase });
      const got = tok.tokenize(c.text).map((x) => [tok.vocab.token(x.id), x.start, x.end]);
      if (c.name === 'wordpiece continuation spans') {
        assert.deepEqual(
          got
            .map((g) => g[0])
            .join(' ')
            .replace(/ ##/g, ''),
          'playing',
        );
        assert.equal(got[0][1], 0);
        assert.equal(got[got.length - 1][2], 7);
      } else {
        assert.deepEqual(got, c.expect);
      }
    });
  }
});

for (const c of [
  { name: 'zh_lower', vocab: ZH_VOCAB, lowercase: true },
  { name: 'zh_cased', vocab: ZH_VOCAB, lowercase: false },
  { name: 'en_uncased', vocab: EN_VOCAB, lowercase: true },
]) {
  test(`spans of every golden ${c.name} line map to the text they came from`, { skip: NEEDS_SHARED }, () => {
    const tok = new WordPieceTokenizer(Vocab.fromFile(c.vocab), { lowercase: c.lowercase });
    const lines = readJsonlGz<{ id: string; text: string }>(
      path.join(SHARED, 'golden/tokenizer', `tok_${c.name}.jsonl.gz`),
    );
    const bad: string[] = [];
    for (const l of lines) {
      const why = checkSpans(tok, l.text);
      if (why) bad.push(`${l.id}: ${why}`);
    }
    assert.deepEqual(bad.slice(0, 5), []);
  });
}

test('a vocabulary without [UNK] is refused with its path', () => {
  assert.throws(() => Vocab.fromLines(['[PAD]', '[CLS]', '[SEP]', 'a']), /no \[UNK\] token/);
});

test('strip_accents follows lowercase unless set either way', { skip: NEEDS_SHARED }, () => {
  const vocab = Vocab.fromFile(ZH_VOCAB);
  const show = (opts: { lowercase: boolean; strip_accents?: boolean }): string[] =>
    new WordPieceTokenizer(vocab, opts).tokenize('Café résumé').map((t) => vocab.token(t.id));
  assert.deepEqual(show({ lowercase: true }), ['cafe', 're', '##su', '##me']);
  assert.deepEqual(show({ lowercase: true, strip_accents: false }), ['[UNK]', '[UNK]']);
  assert.deepEqual(show({ lowercase: false }), ['[UNK]', '[UNK]']);
  assert.deepEqual(show({ lowercase: false, strip_accents: true }), ['[UNK]', 're', '##su', '##me']);
});
