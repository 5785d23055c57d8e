// `refit data check|stats` on NER files (run in-process through cli/main.ts): the ok line per file, the figures
// (irregular starts counted, sub-tokens with a vocab), and one `PATH:LINE: what` line with exit 2 for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInProcess } from '../cli/in-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ASSETS = resolve(ROOT, '../shared/assets');
const skip = !existsSync(join(ASSETS, 'weibo-ner')) && 'needs ../shared (weibo-ner, wnut17)';
const dir = mkdtempSync(join(tmpdir(), 'refit-ner-cli-'));
const refit = (...argv: string[]) => runInProcess(argv, {});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('data check: a Weibo NER folder and a WNUT-17 file, each read with its format', { skip }, async () => {
  const r = await refit('data', 'check', join(ASSETS, 'weibo-ner'), join(ASSETS, 'wnut17/wnut17train.conll'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout.replaceAll(`${ASSETS}/`, ''),
    [
      'weibo-ner/train.txt: ok, deepke-ner, BIO, 1350 sentences, 1889 entities, 8 types',
      'weibo-ner/dev.txt: ok, deepke-ner, BIO, 270 sentences, 389 entities, 8 types',
      'weibo-ner/test.txt: ok, deepke-ner, BIO, 270 sentences, 418 entities, 8 types',
      'wnut17/wnut17train.conll: ok, conll, BIO, 3394 sentences, 1975 entities, 6 types',
      '',
    ].join('\n'),
  );
});

test(
  'data check: the published Weibo train file has ten entities seqeval reads from an I-',
  { skip },
  async () => {
    const r = await refit('data', 'check', join(ASSETS, 'weibo-ner/weiboNER_2nd_conll.train'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /weibo-conll, BIO, 1350 sentences, 1895 entities, 8 types, 10 entities start without B-/,
    );
  },
);

test('data stats --json: entities per type, irregular starts, sub-tokens, train overlap', async () => {
  const train = write('train.txt', '张 B-PER\n三 I-PER\n去 O\n京 B-LOC\n\n好 O\n');
  const dev = write('dev.txt', '好 O\n\n李 O\n四 I-PER\n');
  const vocab = resolve(ASSETS, 'bert-vocab/google_zh_vocab.txt');
  const args = existsSync(vocab) ? ['--vocab', vocab] : [];
  const r = await refit('data', 'stats', '--json', ...args, train, dev);
  assert.equal(r.code, 0, r.stderr);
  const [a, b] = JSON.parse(r.stdout);
  assert.deepEqual(
    [a.format, a.scheme, a.sentences, a.entities, a.types, a.irregular],
    ['deepke-ner', 'BIO', 2, 2, { LOC: 1, PER: 1 }, 0],
  );
  assert.deepEqual([b.entities, b.irregular, b.train_overlap], [1, 1, 1]);
  if (args.length) assert.deepEqual([a.subtokens.max, a.subtokens.over_128], [6, 0]);
});

/** name, content, the one stderr line after `refit: ` (the path cut to the file name). */
const BAD: ReadonlyArray<[string, string, string]> = [
  [
    'shape.txt',
    '张 B-PER\n三 PER\n好 O\n\n好 O\n',
    "shape.txt:2: tag 'PER' is not O or B-/I-/M-/E-/S- followed by a type (e.g. B-PER)",
  ],
  [
    'fields.conll',
    'EU\tB-ORG\nrejects\tO\nGerman\nfoo\tO\n',
    'fields.conll:3: expected `token<TAB>TAG`, found one field',
  ],
  [
    'mixed.txt',
    '欧 B-ORG\n洲 M-ORG\n盟 E-ORG\n\n张 B-PER\n三 I-PER\n',
    'mixed.txt:6: mixed tag schemes: BMES (M-) and BIO/BIOES (I-) in one file (first M- at line 2, first I- at line 6); use one scheme',
  ],
];

for (const [name, text, want] of BAD) {
  test(`data check: ${name} exits 2 with one line`, async () => {
    const r = await refit('data', 'check', write(name, text));
    assert.equal(r.code, 2);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines[0].replace(`${dir}/`, ''), `refit: ${want}`);
  });
}

test('data check --on-bad-row skip: the bad sentence is counted, the rest read', async () => {
  const r = await refit(
    'data',
    'check',
    '--on-bad-row',
    'skip',
    write('skip.txt', '张 B-PER\n三 PER\n\n好 O\n'),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout.replace(`${dir}/`, ''),
    'skip.txt: ok, deepke-ner, BIO, 1 sentences, 0 entities, 0 types, 1 bad sentences skipped\n',
  );
});

test('data check --format: an NER format forced, and an unknown one listed with every format', async () => {
  const path = write('tabs.txt', '北\tB-LOC\n京\tI-LOC\n');
  const ok = await refit('data', 'check', '--format', 'deepke-ner', path);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /tabs\.txt: ok, deepke-ner, BIO, 1 sentences, 1 entities, 1 types/);
  const bad = await refit('data', 'check', '--format', 'conl', path);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr.split('\n')[0],
    "refit: data.format 'conl' is not a known format (did you mean 'conll'?); use one of deepke-csv, deepke-json, " +
      'semeval, thunlp, opennre, fewrel, deepke-ner, conll, weibo-conll',
  );
});

test('data check: a file whose every sentence is bad and skipped has no usable sentences', async () => {
  const r = await refit(
    'data',
    'check',
    '--on-bad-row',
    'skip',
    write('allbad.txt', '张 B-PER\n三 PER\n去 O\n\n好 O\n李\n'),
  );
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.split('\n')[0].replace(`${dir}/`, ''),
    "refit: allbad.txt:2: tag 'PER' is not O or B-/I-/M-/E-/S- followed by a type (e.g. B-PER) (no usable " +
      'sentences: all 2 are bad)',
  );
});
