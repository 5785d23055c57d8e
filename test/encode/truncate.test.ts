// Entity-aware truncation: never drops an entity marker, respects max_seq_len, keeps both neighbourhoods when far apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readDataset, type Example } from '../../src/data/index.ts';
import { Vocab, WordPieceTokenizer } from '../../src/tokenize/index.ts';
import { defaultMarkers, encodeExample, truncationPlan } from '../../src/encode/index.ts';
import { EN_VOCAB, NEEDS_SHARED, ZH_VOCAB, asset, example } from './helpers.ts';

/** Checks the invariants of a truncated encoding against the untruncated one; returns what is wrong or null. */
function invariants(full: number[], cut: number[], max: number, marks: number[], sep: number): string | null {
  if (cut.length > max) return `length ${cut.length} > ${max}`;
  for (const m of marks)
    if (cut.filter((i) => i === m).length !== 1)
      return `marker ${m} kept ${cut.filter((i) => i === m).length} times`;
  const order = (ids: number[]): string => ids.filter((i) => marks.includes(i)).join(',');
  if (order(full) !== order(cut)) return 'marker order changed';
  // the kept tokens (separators aside) are a subsequence of the full encoding
  let j = 1;
  for (const id of cut.slice(1, -1)) {
    if (id === sep) continue;
    while (j < full.length - 1 && full[j] !== id) j++;
    if (j >= full.length - 1) return 'kept tokens are not a subsequence of the full encoding';
    j++;
  }
  return null;
}

for (const c of [
  { name: 'FinRE train', file: 'finre/train.txt', vocab: ZH_VOCAB, max: [16, 24, 48] },
  { name: 'SemEval train', file: 'semeval2010-task8/train.tsv', vocab: EN_VOCAB, max: [12, 20, 32] },
]) {
  test(
    `${c.name}: truncation keeps every marker, the order and max_seq_len`,
    { skip: NEEDS_SHARED },
    async () => {
      const { examples } = await readDataset({ path: asset(c.file) });
      const vocab = Vocab.fromFile(c.vocab);
      const tok = new WordPieceTokenizer(vocab, { lowercase: true });
      const markers = defaultMarkers(vocab, { typed: false });
      const marks = ['[unused1]', '[unused2]', '[unused3]', '[unused4]'].map((t) => vocab.id(t)!);
      const bad: string[] = [];
      let truncated = 0;
      for (const ex of examples.slice(0, 3000)) {
        const full = encodeExample({ tokenizer: tok, example: ex, max_seq_len: 100_000, markers }).ids;
        for (const max of c.max) {
          const enc = encodeExample({ tokenizer: tok, example: ex, max_seq_len: max, markers });
          if (enc.truncated) truncated++;
          const why =
            invariants(full, enc.ids, max, marks, vocab.sep_id) ??
            (enc.truncated !== full.length > max ? 'truncated flag wrong' : null) ??
            (enc.ids[enc.head_pos] !== marks[0] || enc.ids[enc.tail_pos] !== marks[2]
              ? 'head_pos/tail_pos wrong'
              : null);
          if (why) bad.push(`${ex.file}:${ex.line} max ${max}: ${why}`);
        }
      }
      assert.deepEqual(bad.slice(0, 5), []);
      assert.ok(truncated > 100, `${truncated} truncated encodings exercised`);
    },
  );
}

function numbered(n: number): string {
  return Array.from({ length: n }, (_, i) => String(i)).join(' ');
}

function spanOfWord(text: string, w: number, count = 1): [number, number] {
  const words = text.split(' ');
  const start = words.slice(0, w).join(' ').length + (w > 0 ? 1 : 0);
  return [start, start + words.slice(w, w + count).join(' ').length];
}

test('entities that fit: one window around them, centred, no separator', { skip: NEEDS_SHARED }, () => {
  const vocab = Vocab.fromFile(EN_VOCAB);
  const tok = new WordPieceTokenizer(vocab, { lowercase: true });
  const text = numbered(100);
  const ex = example(text, spanOfWord(text, 40), spanOfWord(text, 44));
  const enc = encodeExample({
    tokenizer: tok,
    example: ex,
    max_seq_len: 20,
    markers: defaultMarkers(vocab, { typed: false }),
  });
  const words = enc.ids.map((i) => vocab.token(i));
  assert.equal(
    words.join(' '),
    '[CLS] 36 37 38 39 [unused1] 40 [unused2] 41 42 43 [unused3] 44 [unused4] 45 46 47 48 49 [SEP]',
  );
  assert.equal(enc.truncated, true);
});

test('far-apart entities: both neighbourhoods joined by one [SEP]', { skip: NEEDS_SHARED }, () => {
  const vocab = Vocab.fromFile(EN_VOCAB);
  const tok = new WordPieceTokenizer(vocab, { lowercase: true });
  const text = numbered(200);
  const ex = example(text, spanOfWord(text, 5), spanOfWord(text, 190));
  const enc = encodeExample({
    tokenizer: tok,
    example: ex,
    max_seq_len: 24,
    markers: defaultMarkers(vocab, { typed: false }),
  });
  const words = enc.ids.map((i) => vocab.token(i));
  assert.equal(
    words.join(' '),
    '[CLS] 1 2 3 4 [unused1] 5 [unused2] 6 7 8 9 [SEP] 186 187 188 189 [unused3] 190 [unused4] 191 192 193 [SEP]',
  );
  assert.equal(enc.ids.length, 24);
});

test('an entity longer than the budget is cut inside, both its markers kept', { skip: NEEDS_SHARED }, () => {
  const vocab = Vocab.fromFile(EN_VOCAB);
  const tok = new WordPieceTokenizer(vocab, { lowercase: true });
  const text = numbered(150);
  const ex: Example = example(text, spanOfWord(text, 10, 100), spanOfWord(text, 120));
  const enc = encodeExample({
    tokenizer: tok,
    example: ex,
    max_seq_len: 24,
    markers: defaultMarkers(vocab, { typed: false }),
  });
  const words = enc.ids.map((i) => vocab.token(i));
  assert.equal(enc.ids.length, 24);
  for (const m of ['[unused1]', '[unused2]', '[unused3]', '[unused4]'])
    assert.equal(words.filter((w) => w === m).length, 1, m);
  assert.equal(words[enc.head_pos + 1], '10');
  assert.equal(words[words.indexOf('[unused2]') - 1], '109');
  assert.equal(words[enc.tail_pos + 1], '120');
});

test('truncationPlan: never more than the budget, refuses a budget below the markers', () => {
  for (let len = 4; len < 60; len += 7) {
    for (let budget = 7; budget < 40; budget += 5) {
      const m = {
        head_start: 0,
        head_end: Math.floor(len / 3),
        tail_start: Math.floor(len / 2),
        tail_end: len - 1,
      };
      const plan = truncationPlan({ length: len, budget, markers: m });
      assert.ok(plan.length <= budget && plan.length <= len + 3, `len ${len} budget ${budget}`);
      for (const k of Object.values(m)) assert.ok(plan.includes(k));
    }
  }
  assert.throws(
    () =>
      truncationPlan({
        length: 10,
        budget: 5,
        markers: { head_start: 0, head_end: 1, tail_start: 2, tail_end: 3 },
      }),
    /max_seq_len >= 9/,
  );
});

test(
  'max_seq_len below [CLS] + [SEP] + markers is refused even when the example is short',
  { skip: NEEDS_SHARED },
  () => {
    const vocab = Vocab.fromFile(EN_VOCAB);
    const tok = new WordPieceTokenizer(vocab, { lowercase: true });
    assert.throws(
      () =>
        encodeExample({
          tokenizer: tok,
          example: example('a b', 'a', 'b'),
          max_seq_len: 8,
          markers: defaultMarkers(vocab, { typed: false }),
        }),
      /^ConfigError: max_seq_len 8 is too small for \[CLS\], \[SEP\] and four entity markers \(use max_seq_len >= 9\)$/,
    );
  },
);
