// Offsets count code points (Python's str.index) in every reader and at prediction time: an emoji or a CJK
// character from U+20000 up is one code point but two UTF-16 units, so after one the two counts part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDataset } from '../../src/data/index.ts';
import { codePointLength, codePointToUtf16, utf16ToCodePoint } from '../../src/offsets.ts';
import { itemExample } from '../../src/infer/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'refit-astral-'));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

// Python: s = '😀𠀀 张三出生于𠀁北京'; s.index('张三') == 3, s.index('北京') == 9
const S = '😀𠀀 张三出生于𠀁北京';
const HEAD_CP = 3;
const TAIL_CP = 9;

test('the one conversion helper: code points ↔ UTF-16 units, identity for BMP text', () => {
  assert.equal(codePointLength(S), 11);
  assert.equal(codePointToUtf16(S, HEAD_CP), S.indexOf('张三'));
  assert.equal(codePointToUtf16(S, TAIL_CP), S.indexOf('北京'));
  for (let u = 0; u <= S.length; u++) {
    if (u > 0 && u < S.length && S.charCodeAt(u) >= 0xdc00 && S.charCodeAt(u) <= 0xdfff) continue; // inside a pair
    assert.equal(codePointToUtf16(S, utf16ToCodePoint(S, u)), u);
  }
  assert.equal(codePointToUtf16('abc', 2), 2);
  assert.equal(utf16ToCodePoint('abc', 2), 2);
  assert.equal(codePointToUtf16(S, 20), S.length + 9, 'past the end stays past the end');
  assert.equal(codePointLength('a\ud800b'), 3, 'a lone surrogate is one code point, as in Python');
});

test('DeepKE CSV and JSON: offsets after astral characters are honoured, not fallen back from', async () => {
  const csv = file(
    'astral.csv',
    `sentence,relation,head,head_offset,tail,tail_offset\n${S},出生地,张三,${HEAD_CP},北京,${TAIL_CP}\n`,
  );
  const json = file(
    'astral.json',
    JSON.stringify([
      {
        sentence: S,
        relation: '出生地',
        head: '张三',
        head_offset: HEAD_CP,
        tail: '北京',
        tail_offset: TAIL_CP,
      },
    ]),
  );
  for (const path of [csv, json]) {
    const ds = await readDataset({ path });
    assert.equal(ds.offset_fallbacks, 0, path);
    const [ex] = ds.examples;
    assert.equal(S.slice(ex.head.start, ex.head.end), '张三');
    assert.equal(S.slice(ex.tail.start, ex.tail.end), '北京');
  }
  // the last code point is in range, one past it is not
  const last = file(
    'last.csv',
    `sentence,relation,head,head_offset,tail,tail_offset\n${S}京,出生地,张三,${HEAD_CP},京,11\n${S},出生地,张三,${HEAD_CP},北京,11\n`,
  );
  const warned: string[] = [];
  const ds = await readDataset({ path: last, on_bad_row: 'warn', warn: (l) => warned.push(l) });
  assert.equal(ds.examples.length, 1);
  assert.deepEqual(warned, [`${last}:3: tail_offset 11 is outside the sentence (0..10)`]);
});

test('OpenNRE text mode: pos counts code points', async () => {
  const path = file(
    'astral.jsonl',
    JSON.stringify({
      text: S,
      h: { name: '张三', pos: [HEAD_CP, HEAD_CP + 2] },
      t: { name: '北京', pos: [TAIL_CP, TAIL_CP + 2] },
      relation: '出生地',
    }) + '\n',
  );
  const [ex] = (await readDataset({ path })).examples;
  assert.equal(S.slice(ex.head.start, ex.head.end), '张三');
  assert.equal(S.slice(ex.tail.start, ex.tail.end), '北京');
});

test('prediction items: code-point offsets locate the mention; UTF-16 offsets are refused naming the code-point one', () => {
  const ok = itemExample(
    { text: S, head: '张三', tail: '北京', head_offset: HEAD_CP, tail_offset: TAIL_CP },
    1,
  );
  assert.ok(typeof ok !== 'string', String(ok));
  assert.equal(S.slice(ok.head.start, ok.head.end), '张三');
  assert.equal(S.slice(ok.tail.start, ok.tail.end), '北京');
  assert.equal(
    itemExample({ text: S, head: '张三', tail: '北京', head_offset: S.indexOf('张三') }, 1),
    "head '张三' is not at head_offset 5 (offsets count code points, as Python's str.index: it is at 3)",
  );
  // two occurrences: the offset picks the second one
  const twice = '😀张三 and 张三 in 北京';
  const second = itemExample({ text: twice, head: '张三', tail: '北京', head_offset: 8 }, 1);
  assert.ok(typeof second !== 'string');
  assert.equal(second.head.start, twice.lastIndexOf('张三'));
});
