// NER files: the real Weibo NER and WNUT-17 files read with the detected reader (counts from each SOURCE.md),
// code-point spans, the relation files left to the relation readers, and one error line per bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { entitySpans, pickNerReader, readNerDataset, type NerFile } from '../../src/data/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ASSETS = resolve(ROOT, '../shared/assets');
const skip = !existsSync(join(ASSETS, 'weibo-ner')) && 'needs ../shared (weibo-ner, wnut17)';

/** file, format, scheme, joiner, sentences, entities (SOURCE.md), irregular starts, types. */
const FILES: ReadonlyArray<[string, string, string, string, number, number, number, number]> = [
  ['weibo-ner/train.txt', 'deepke-ner', 'BIO', '', 1350, 1889, 0, 8],
  ['weibo-ner/dev.txt', 'deepke-ner', 'BIO', '', 270, 389, 0, 8],
  ['weibo-ner/test.txt', 'deepke-ner', 'BIO', '', 270, 418, 0, 8],
  // as published: ten I- tags after O or another type, which the DeepKE-form copy turned into B-/O
  ['weibo-ner/weiboNER_2nd_conll.train', 'weibo-conll', 'BIO', '', 1350, 1895, 10, 8],
  ['wnut17/wnut17train.conll', 'conll', 'BIO', ' ', 3394, 1975, 0, 6],
  ['wnut17/emerging.dev.conll', 'conll', 'BIO', ' ', 1009, 836, 0, 6],
  ['wnut17/emerging.test.annotated', 'conll', 'BIO', ' ', 1287, 1079, 0, 6],
];

const entities = (d: NerFile) => d.sentences.reduce((k, s) => k + s.spans.length, 0);

for (const [file, format, scheme, joiner, n, ents, irregular, types] of FILES) {
  test(`${file}: ${format}, ${n} sentences, ${ents} entities`, { skip }, async () => {
    const d = await readNerDataset({ path: join(ASSETS, file) });
    assert.deepEqual(
      [d.format, d.scheme, d.joiner, d.sentences.length, entities(d)],
      [format, scheme, joiner, n, ents],
    );
    assert.equal(
      d.sentences.reduce((k, s) => k + s.irregular, 0),
      irregular,
    );
    assert.equal(new Set(d.sentences.flatMap((s) => s.spans.map((e) => e.type))).size, types);
    for (const s of d.sentences) {
      assert.equal(s.tokens.length, s.tags.length);
      const chars = [...s.text];
      for (const [k, e] of entitySpans(s).entries()) {
        // a code-point span of the text holds exactly the entity's tokens
        assert.equal(chars.slice(e.start, e.end).join(''), e.text);
        const sp = s.spans[k];
        assert.equal(e.text, s.tokens.slice(sp.start, sp.end).join(d.joiner));
      }
    }
  });
}

test('weibo-ner: the published file and the DeepKE copy hold the same characters', { skip }, async () => {
  // the DeepKE copy kept the place digit of a character mangled into two U+FFFD
  const a = await readNerDataset({ path: join(ASSETS, 'weibo-ner/train.txt') });
  const b = await readNerDataset({ path: join(ASSETS, 'weibo-ner/weiboNER_2nd_conll.train') });
  assert.deepEqual(
    a.sentences.map((s) => s.text.replaceAll('\uFFFD\uFFFD0', '\uFFFD\uFFFD')),
    b.sentences.map((s) => s.text),
  );
});

test('wnut17 dev: offsets count code points after an astral character', { skip }, async () => {
  const d = await readNerDataset({ path: join(ASSETS, 'wnut17/emerging.dev.conll') });
  const after = d.sentences.flatMap((s) =>
    entitySpans(s)
      .filter((e) => /[\u{10000}-\u{10FFFF}]/u.test([...s.text].slice(0, e.start).join('')))
      .map((e) => ({ s, e })),
  );
  assert.ok(after.length > 0);
  for (const { s, e } of after) {
    assert.equal([...s.text].slice(e.start, e.end).join(''), e.text);
    assert.notEqual(s.text.slice(e.start, e.end), e.text, 'UTF-16 indices would miss it');
  }
});

test('relation files are not claimed by the NER readers', { skip }, () => {
  const RE = [
    'deepke-re-standard/train.csv',
    'semeval2010-task8/train.tsv',
    'finre/train.txt',
    'sanwen/train.txt',
    'people-relation-val/people-relation_val.txt',
    'fewrel-val-wiki/val_wiki.json',
  ];
  for (const f of RE) {
    const path = join(ASSETS, f);
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8').slice(0, 8192);
    assert.equal(pickNerReader({ path, text }), undefined, f);
  }
});

const dir = mkdtempSync(join(tmpdir(), 'refit-ner-'));
function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
async function errorOf(path: string, format?: string): Promise<string> {
  try {
    await readNerDataset({ path, format });
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

/** name, content, the expected message (with the path cut to the file name). */
const BAD: ReadonlyArray<[string, string, string]> = [
  [
    'no-tag.txt',
    '张 B-PER\n三 I-PER\n说\n了 O\n\n好 O\n',
    'no-tag.txt:3: expected `token TAG` (two fields), found one field',
  ],
  [
    'shape.txt',
    '张 B-PER\n三 PER\n\n好 O\n',
    "shape.txt:2: tag 'PER' is not O or B-/I-/M-/E-/S- followed by a type (e.g. B-PER)",
  ],
  [
    'mixed.txt',
    '张 B-PER\n三 I-PER\n\n李 B-PER\n四 M-PER\n五 E-PER\n',
    'mixed.txt:5: mixed tag schemes: BMES (M-) and BIO/BIOES (I-) in one file (first M- at line 5, first I- at ' +
      'line 2); use one scheme',
  ],
  [
    'long.txt',
    '好 O\n'.repeat(1001),
    'long.txt:1: sentence of 1001 tokens (lines 1-1001) is longer than 1000; separate sentences with a blank line',
  ],
];

for (const [name, text, want] of BAD) {
  test(`bad input: ${name}`, async () => {
    const msg = await errorOf(write(name, text));
    assert.equal(msg.replace(`${dir}/`, ''), want);
  });
}

test('CRLF, whitespace-only separator lines, -DOCSTART- and a trailing blank line', async () => {
  const path = write(
    'ok.conll',
    '-DOCSTART- -X- O O\r\n\r\nEU\tB-ORG\r\nrejects\tO\r\n\t\r\nPeter\tB-PER\r\nBlackburn\tI-PER\r\n\r\n',
  );
  const d = await readNerDataset({ path });
  assert.equal(d.format, 'conll');
  assert.deepEqual(
    d.sentences.map((s) => [s.text, s.line, entitySpans(s).map((e) => `${e.type}:${e.text}`)]),
    [
      ['EU rejects', 3, ['ORG:EU']],
      ['Peter Blackburn', 6, ['PER:Peter Blackburn']],
    ],
  );
});

test('a token that is another kind of space stays a token', async () => {
  const d = await readNerDataset({ path: write('space.txt', '北 B-LOC\n京 I-LOC\n\u3000 O\n好 O\n') });
  assert.deepEqual(d.sentences[0].tokens, ['北', '京', '\u3000', '好']);
});

test('BIOES and BMES files are detected and read as spans', async () => {
  const bioes = await readNerDataset({ path: write('bioes.txt', '张 B-PER\n三 E-PER\n在 O\n京 S-LOC\n') });
  assert.equal(bioes.scheme, 'BIOES');
  assert.deepEqual(
    entitySpans(bioes.sentences[0]).map((e) => `${e.type}:${e.text}:${e.start}-${e.end}`),
    ['PER:张三:0-2', 'LOC:京:3-4'],
  );
  const bmes = await readNerDataset({ path: write('bmes.txt', '欧 B-ORG\n洲 M-ORG\n联 M-ORG\n盟 E-ORG\n') });
  assert.equal(bmes.scheme, 'BMES');
  assert.deepEqual(
    entitySpans(bmes.sentences[0]).map((e) => e.text),
    ['欧洲联盟'],
  );
});

test('a labels list must hold every tag; on_bad_row skip drops the sentence', async () => {
  const path = write('labels.txt', '张 B-PER\n三 I-PER\n\n北 B-LOC\n京 I-LOC\n');
  const warned: string[] = [];
  const d = await readNerDataset({
    path,
    labels: ['B-PER', 'I-PER'],
    on_bad_row: 'warn',
    warn: (l) => warned.push(l),
  });
  assert.equal(d.sentences.length, 1);
  assert.equal(d.skipped_rows, 1);
  assert.deepEqual(
    warned.map((l) => l.replace(`${dir}/`, '')),
    ["labels.txt:4: tag 'B-LOC' is not in the labels list"],
  );
});
