// Reading `refit predict --input` without a model: which files are JSON lines of items and which go to the data
// readers, and the rows a JSON-lines file yields (line numbers, blank lines, BOM, CRLF, invalid UTF-8, over-long
// lines, every field problem). The worker side is in test/e2e/predict-input.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_LINE_BYTES, itemRow, openPredictInput, type InputRow } from '../../src/infer/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'refit-predict-rows-'));
const file = (name: string, text: string | Buffer) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const ITEM = { text: 'Ann met Bob.', head: 'Ann', tail: 'Bob' };
const FEWREL = {
  P177: [{ tokens: ['Ann', 'met', 'Bob'], h: ['ann', 'Q1', [[0]]], t: ['bob', 'Q2', [[2]]] }],
};

async function rowsOf(path: string): Promise<InputRow[]> {
  const input = await openPredictInput({ path });
  const out: InputRow[] = [];
  for await (const r of input.rows()) out.push(r);
  return out;
}

test('JSON lines of items vs labelled files', async () => {
  const kind = async (name: string, text: string) =>
    (await openPredictInput({ path: file(name, text) })).kind;
  assert.equal(await kind('items.jsonl', `${JSON.stringify(ITEM)}\n`), 'jsonl');
  assert.equal(
    await kind('extra-keys.jsonl', `${JSON.stringify({ ...ITEM, relation: 'met', id: 7 })}\n`),
    'jsonl',
    'extra keys are allowed',
  );
  assert.equal(
    await kind('broken-first.txt', `{"text": \n${JSON.stringify(ITEM)}\n`),
    'jsonl',
    'a broken first line does not hide the rest',
  );
  assert.equal(await kind('all-broken.jsonl', '{"text": \n{broken\n'), 'jsonl');
  assert.equal(
    await kind(
      'opennre.jsonl',
      `${JSON.stringify({ text: 'Ann met Bob.', h: { name: 'Ann', pos: [0, 3] }, t: { name: 'Bob', pos: [8, 11] }, relation: 'x' })}\n`,
    ),
    'labelled',
  );
  assert.equal(
    await kind('fewrel.json', JSON.stringify(FEWREL)),
    'labelled',
    'a one-line FewRel document is not a row',
  );
  assert.equal(await kind('fewrel-pretty.json', JSON.stringify(FEWREL, null, 2)), 'labelled');
  assert.equal(
    await kind(
      'deepke.csv',
      'sentence,relation,head,head_offset,tail,tail_offset\nAnn met Bob.,met,Ann,0,Bob,8\n',
    ),
    'labelled',
  );
  await assert.rejects(
    openPredictInput({ path: join(dir, 'missing.jsonl') }),
    /missing\.jsonl: no such file/,
  );
  await assert.rejects(openPredictInput({ path: file('empty.jsonl', '') }), /empty\.jsonl: file is empty/);
});

test('rows: physical line numbers, blank lines skipped, BOM and CRLF dropped, invalid UTF-8 and over-long lines are error rows', async () => {
  const text = Buffer.concat([
    Buffer.from('\ufeff' + JSON.stringify(ITEM) + '\r\n\r\n   \n'),
    Buffer.from([0x7b, 0xc3, 0x28, 0x7d, 0x0a]),
    Buffer.from(`{"text": "${'x'.repeat(MAX_LINE_BYTES)}"}\n`),
    Buffer.from(JSON.stringify(ITEM)),
  ]);
  const rows = await rowsOf(file('mixed.jsonl', text));
  assert.deepEqual(
    rows.map((r) => r.line),
    [1, 4, 5, 6],
  );
  assert.deepEqual(rows[0], { line: 1, item: ITEM });
  assert.deepEqual(rows[1], { line: 4, error: 'invalid UTF-8; save the file as UTF-8' });
  assert.deepEqual(rows[2], { line: 5, error: 'line is longer than 1 MiB' });
  assert.deepEqual(rows[3], { line: 6, item: ITEM });
});

test('itemRow: every field problem has its reason, with head/tail when they could be read', () => {
  const bad = (v: unknown) => itemRow(typeof v === 'string' ? v : JSON.stringify(v), 3);
  assert.deepEqual(bad('{"text": "a", '), {
    line: 3,
    error: 'broken JSON at column 15: expected a "key", found end of input',
  });
  assert.deepEqual(bad([1]), {
    line: 3,
    error: 'expected a JSON object {"text", "head", "tail"}, got a list',
  });
  assert.deepEqual(bad('"text"'), {
    line: 3,
    error: 'expected a JSON object {"text", "head", "tail"}, got a string',
  });
  assert.deepEqual(bad({ text: 5, head: 'a', tail: 'b' }), {
    line: 3,
    error: "field 'text' must be a string, got a number",
    head: 'a',
    tail: 'b',
  });
  assert.deepEqual(bad({ text: 'a b', tail: 'b' }), {
    line: 3,
    error: "field 'head' is missing",
    head: undefined,
    tail: 'b',
  });
  assert.deepEqual(bad({ text: 'a b', head: null, tail: 'b' }), {
    line: 3,
    error: "field 'head' must be a string, got null",
    head: undefined,
    tail: 'b',
  });
  assert.equal(
    (bad({ ...ITEM, head_offset: -1 }) as { error: string }).error,
    "field 'head_offset' must be a whole number ≥ 0 (a code-point offset), got -1",
  );
  assert.equal(
    (bad({ ...ITEM, tail_offset: '8' }) as { error: string }).error,
    'field \'tail_offset\' must be a whole number ≥ 0 (a code-point offset), got "8"',
  );
  assert.deepEqual(
    bad({ ...ITEM, head_offset: 0, tail_offset: null }),
    { line: 3, item: { ...ITEM, head_offset: 0 } },
    'null is no offset',
  );
  // names of Object.prototype members are just keys that are not there
  assert.deepEqual(bad('{"constructor": 1, "__proto__": {"text": "x"}, "toString": 3}'), {
    line: 3,
    error: "field 'text' is missing",
    head: undefined,
    tail: undefined,
  });
});

test('a labelled CSV whose offsets count UTF-16 units: that row is an error naming the code-point offset', async () => {
  // "😀 Ann met Bob.": Ann is at code point 2 (Python) but UTF-16 index 3 (JavaScript).
  const rows = await rowsOf(
    file(
      'utf16.csv',
      'sentence,relation,head,head_offset,tail,tail_offset\n' +
        '😀 Ann met Bob.,met,Ann,3,Bob,11\n' +
        '😀 Ann met Bob.,met,Ann,2,Bob,10\n' +
        'Ann met Bob.,met,Ann,0,Bob,8\n',
    ),
  );
  assert.deepEqual(rows[0], {
    line: 2,
    error:
      "head 'Ann' is not at head_offset 3 (offsets count code points, as Python's str.index: it is at 2)",
  });
  assert.ok('item' in rows[1] && rows[1].item.head_offset === 2 && rows[1].item.tail_offset === 10);
  assert.ok('item' in rows[2]);
  assert.equal(rows.length, 3);
});
