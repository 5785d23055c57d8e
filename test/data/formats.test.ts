// Reader behaviour on small real files written to a temp folder: CSV dialect and line numbers, offsets and
// their fallback, marker stripping, OpenNRE token joining and inclusive ends, detection, on_bad_row, relation lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, MultiError, RefitError } from '../../src/errors.ts';
import {
  detectNaLabel,
  readDataset,
  readRelations,
  relationSetFromExamples,
  resolveDataFolder,
  type Example,
} from '../../src/data/index.ts';

const DIR = mkdtempSync(join(tmpdir(), 'refit-data-'));
let n = 0;
/** Writes `content` to a fresh file named `name` and returns its path. */
function file(name: string, content: string | Buffer): string {
  const dir = join(DIR, String(n++));
  mkdirSync(dir);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
const H = 'sentence,relation,head,head_offset,tail,tail_offset\n';
const spans = (e: Example) => [e.head.start, e.head.end, e.tail.start, e.tail.end];

test('deepke-csv: BOM, CRLF, quoted commas and newlines; a record reports its first physical line', async () => {
  const csv =
    '\ufeff' +
    H +
    '"甲，乙,丙",关系,甲,0,丙,4\r\n\r\n"第一行\r\n第二行",关系,第一,0,第二,4\r\n普通,关系,普,0,通,1';
  const d = await readDataset({ path: file('train.csv', csv) });
  assert.equal(d.format, 'deepke-csv');
  assert.deepEqual(
    d.examples.map((e) => [e.line, e.text]),
    [
      [2, '甲，乙,丙'],
      [4, '第一行\n第二行'],
      [6, '普通'],
    ],
  );
  assert.deepEqual(spans(d.examples[1]), [0, 2, 4, 6]);
});

test('deepke: the offset picks the annotated occurrence; a wrong offset falls back to the nearest one and is counted', async () => {
  const csv = H + '北京人在北京,关系,北京人,0,北京,4\n北京人在北京,关系,北京人,0,北京,3\n';
  const d = await readDataset({ path: file('a.csv', csv) });
  assert.deepEqual(spans(d.examples[0]), [0, 3, 4, 6]);
  assert.equal(d.examples[0].offset_fallback, undefined);
  assert.deepEqual(spans(d.examples[1]), [0, 3, 4, 6]);
  assert.equal(d.examples[1].offset_fallback, true);
  assert.equal(d.offset_fallbacks, 1);
});

test('deepke: offsets count code points (Python), spans are UTF-16', async () => {
  const d = await readDataset({ path: file('a.csv', H + '😀张三去北京,关系,张三,1,北京,4\n') });
  assert.deepEqual(spans(d.examples[0]), [2, 4, 5, 7]);
  assert.equal(d.offset_fallbacks, 0);
});

test('deepke: head_type/tail_type columns in the data are kept; without them types stay undefined', async () => {
  const d = await readDataset({
    path: file(
      'a.csv',
      'sentence,relation,head,head_offset,tail,tail_offset,head_type,tail_type\n张三去北京,r,张三,0,北京,3,人物,地点\n',
    ),
  });
  assert.deepEqual([d.examples[0].head.type, d.examples[0].tail.type], ['人物', '地点']);
});

test('deepke-json: same records as a JSON array, string offsets accepted, line of each record', async () => {
  const json =
    '[\n {"sentence": "张三去北京", "relation": "r", "head": "张三", "head_offset": "0", "tail": "北京", "tail_offset": 3},\n' +
    ' {"sentence": "李四", "relation": "r", "head": "李", "tail": "四"}\n]';
  const d = await readDataset({ path: file('train.json', json) });
  assert.equal(d.format, 'deepke-json');
  assert.deepEqual(
    d.examples.map((e) => [e.line, ...spans(e)]),
    [
      [2, 0, 2, 3, 5],
      [3, 0, 1, 1, 2],
    ],
  );
  assert.equal(d.examples[0].head.type, undefined);
});

test('semeval: markers removed with or without inner spaces; e1 is the head; label verbatim', async () => {
  const tsv =
    'Cause-Effect(e2,e1)\tThe <e1> burst </e1> was caused by <e2>pressure</e2>.\nOther\t<e2> A </e2> and <e1>b c</e1>\n';
  const d = await readDataset({ path: file('train.tsv', tsv) });
  assert.equal(d.format, 'semeval');
  const [a, b] = d.examples;
  assert.equal(a.text, 'The burst was caused by pressure.');
  assert.equal(a.relation, 'Cause-Effect(e2,e1)');
  assert.deepEqual([a.head.text, a.tail.text], ['burst', 'pressure']);
  assert.equal(b.text, 'A and b c');
  assert.deepEqual([b.head.text, b.tail.text, b.head.start], ['b c', 'A', 6]);
});

test('semeval: the organisers\' layout (id<TAB>"sentence", label, Comment) with and without labels', async () => {
  const train =
    '1\t"The <e1>child</e1> was put in the <e2>cradle</e2>."\nOther\nComment: x\n\n2\t"A <e1>b</e1> c <e2>d</e2>."\nCause-Effect(e1,e2)\nComment:\n';
  const d = await readDataset({ path: file('TRAIN_FILE.TXT', train) });
  assert.equal(d.format, 'semeval');
  assert.deepEqual(
    d.examples.map((e) => [e.line, e.relation, e.head.text, e.tail.text]),
    [
      [1, 'Other', 'child', 'cradle'],
      [5, 'Cause-Effect(e1,e2)', 'b', 'd'],
    ],
  );
  const t = await readDataset({
    path: file('TEST_FILE.TXT', '8001\t"The <e1>a</e1> and <e2>b</e2>."\n\n8002\t"<e2>c</e2> <e1>d</e1>"\n'),
  });
  assert.deepEqual(
    t.examples.map((e) => [e.line, e.relation, e.text]),
    [
      [1, undefined, 'The a and b.'],
      [3, undefined, 'c d'],
    ],
  );
});

test('thunlp: blank lines and CRLF, line numbers are physical', async () => {
  const d = await readDataset({
    path: file('train.txt', '甲\t乙\tr\t甲和乙\r\n\r\n乙\t甲\tunknown\t甲和乙\r\n'),
  });
  assert.equal(d.format, 'thunlp');
  assert.deepEqual(
    d.examples.map((e) => [e.line, ...spans(e)]),
    [
      [1, 0, 1, 2, 3],
      [3, 2, 3, 0, 1],
    ],
  );
});

test('opennre: word tokens join with spaces, Chinese characters without; exclusive end, inclusive when only it fits', async () => {
  const lines = [
    {
      token: ['Bill', 'Gates', 'founded', 'Microsoft', '.'],
      h: { name: 'Bill Gates', pos: [0, 2] },
      t: { name: 'Microsoft', pos: [3, 4] },
      relation: 'founder',
    },
    {
      token: ['张', '三', '生', '于', '北', '京'],
      h: { name: '张三', pos: [0, 1] },
      t: { name: '北京', pos: [4, 5] },
      relation: '出生地',
    },
    {
      text: 'Paris is in France',
      h: { name: 'Paris', pos: [0, 5] },
      t: { name: 'France', pos: [12, 18] },
      relation: 'in',
    },
  ];
  const d = await readDataset({ path: file('train.jsonl', lines.map((l) => JSON.stringify(l)).join('\n')) });
  assert.equal(d.format, 'opennre');
  const [en, zh, chars] = d.examples;
  assert.equal(en.text, 'Bill Gates founded Microsoft .');
  assert.deepEqual([en.head.text, en.tail.text], ['Bill Gates', 'Microsoft']);
  assert.equal(zh.text, '张三生于北京');
  assert.deepEqual([zh.head.text, zh.tail.text], ['张三', '北京']); // [0, 1] inclusive
  assert.deepEqual([chars.head.text, chars.tail.text], ['Paris', 'France']);
});

test('format: forced with data.format, unknown names suggest the closest, undetectable files list every reader', async () => {
  const path = file('data.dat', '甲\t乙\tr\t甲和乙\n');
  assert.equal((await readDataset({ path, format: 'thunlp' })).examples.length, 1);
  await assert.rejects(
    readDataset({ path, format: 'thunpl' }),
    (e: unknown) => e instanceof ConfigError && /did you mean 'thunlp'/.test(e.message),
  );
  await assert.rejects(
    readDataset({ path: file('notes.dat', 'just some words\n') }),
    (e: unknown) =>
      e instanceof RefitError &&
      e.code === 'E_DATA_FORMAT' &&
      /deepke-csv: .*semeval: .*opennre: /.test(e.message),
  );
});

test('on_bad_row: error stops after 5 lines, skip counts, warn reports each line', async () => {
  const rows = Array.from({ length: 8 }, (_, i) => `句子${i},r,无,0,句,0\n`).join('');
  const path = file('a.csv', H + '好句子,r,好,0,句,1\n' + rows);
  await assert.rejects(
    readDataset({ path }),
    (e: unknown) =>
      e instanceof MultiError &&
      e.lines.length === 5 &&
      e.lines[0] === `${path}:3: head '无' does not occur in the sentence`,
  );
  const skipped = await readDataset({ path, on_bad_row: 'skip' });
  assert.deepEqual([skipped.examples.length, skipped.skipped_rows], [1, 8]);
  const warned: string[] = [];
  await readDataset({ path, on_bad_row: 'warn', warn: (l) => warned.push(l) });
  assert.equal(warned.length, 8);
  // A file with no usable row names its first bad row, so the one line says what is wrong.
  const allBad = file('b.csv', H + rows);
  await assert.rejects(
    readDataset({ path: allBad, on_bad_row: 'skip' }),
    (e: unknown) =>
      e instanceof Error &&
      e.message ===
        `${allBad}:2: head '无' does not occur in the sentence (no usable rows: all 8 rows are bad)`,
  );
});

test('relation lists: relation.csv, relation2id.txt (space or TAB), rel2id.json, label.txt; NA detected', async () => {
  const csv = await readRelations(
    file('relation.csv', 'head_type,tail_type,relation,index\n人物,地点,出生地,1\nNone,None,None,0\n'),
  );
  assert.deepEqual(csv, { names: ['None', '出生地'], na_label: 'None' });
  const txt = await readRelations(file('relation2id.txt', 'unknown 0\r\nCreate\t1\r\nUse 2\r\n'));
  assert.deepEqual(txt, { names: ['unknown', 'Create', 'Use'], na_label: 'unknown' });
  const json = await readRelations(file('rel2id.json', '{"b": 1, "no_relation": 0}'));
  assert.deepEqual(json, { names: ['no_relation', 'b'], na_label: 'no_relation' });
  const labels = await readRelations(file('label.txt', 'Other\nCause-Effect(e1,e2)'));
  assert.deepEqual(labels, { names: ['Other', 'Cause-Effect(e1,e2)'], na_label: 'Other' });
  await assert.rejects(
    readRelations(file('relation2id.txt', 'a 0\nb 0\n')),
    /:2: index 0 is used twice \(also by 'a'\)/,
  );
});

test('detectNaLabel and relationSetFromExamples', () => {
  assert.equal(detectNaLabel(['a', 'NA']), 'NA');
  assert.equal(detectNaLabel(['none', 'x']), 'none');
  assert.equal(detectNaLabel(['a', 'b']), null);
  const ex = (relation: string) => ({ relation }) as Example;
  assert.deepEqual(relationSetFromExamples([ex('b'), ex('Other'), ex('a')]), {
    names: ['Other', 'a', 'b'],
    na_label: 'Other',
  });
  assert.deepEqual(relationSetFromExamples([ex('b'), ex('a')], 'a'), { names: ['a', 'b'], na_label: 'a' });
});

test('resolveDataFolder: split words in names, relation list, ambiguity is an error', async () => {
  const dir = join(DIR, 'folder');
  mkdirSync(dir);
  for (const f of ['my_train.tsv', 'people_val.txt', 'test.csv', 'relation2id.txt', 'README.md'])
    writeFileSync(join(dir, f), 'x');
  assert.deepEqual(await resolveDataFolder(dir), {
    train: join(dir, 'my_train.tsv'),
    valid: join(dir, 'people_val.txt'),
    test: join(dir, 'test.csv'),
    relations: join(dir, 'relation2id.txt'),
  });
  writeFileSync(join(dir, 'train.json'), 'x');
  await assert.rejects(resolveDataFolder(dir), /several train files \(my_train.tsv, train.json\)/);
});
