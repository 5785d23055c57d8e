// The bad-input corpus (test/fixtures/bad): the built binary `refit data check FILE` must exit 2 and print
// exactly one stderr line, the expected `PATH:LINE: what`, with no stack trace.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BAD = 'test/fixtures/bad';

/** fixture (file or folder under test/fixtures/bad) → the exact stderr line after `refit: `. */
const CASES: ReadonlyArray<[string, string]> = [
  ['missing.csv', 'missing.csv: no such file'],
  ['empty.csv', 'empty.csv: file is empty'],
  ['header-only.csv', 'header-only.csv: has a header but no data rows'],
  [
    'missing-column.csv',
    "missing-column.csv:1: missing column 'tail' (columns: sentence, relation, head, head_offset, tail_offset)",
  ],
  [
    'misnamed-column.csv',
    "misnamed-column.csv:1: missing column 'sentence' (found 'sentense'; rename it to 'sentence')",
  ],
  ['offset-not-number.csv', "offset-not-number.csv:3: head_offset 'abc' is not a number"],
  ['offset-out-of-range.csv', 'offset-out-of-range.csv:3: tail_offset 99 is outside the sentence (0..6)'],
  ['entity-not-in-sentence.csv', "entity-not-in-sentence.csv:3: head '李四' does not occur in the sentence"],
  ['multiline-record.csv', "multiline-record.csv:3: tail '上海' does not occur in the sentence"],
  [
    'wrong-field-count.csv',
    'wrong-field-count.csv:3: expected 6 fields (sentence,relation,head,head_offset,tail,tail_offset), found 5',
  ],
  ['unterminated-quote.csv', 'unterminated-quote.csv:3: unterminated quote: this quoted field never closes'],
  ['invalid-utf8.csv', 'invalid-utf8.csv:3: invalid UTF-8 (byte 0xff); save the file as UTF-8'],
  ['binary-garbage.csv', 'binary-garbage.csv:3: binary data (NUL byte); this is not a text data file'],
  [
    'relation-not-in-list',
    "relation-not-in-list/train.csv:3: relation '出身地' is not in relation.csv (did you mean '出生地'?)",
  ],
  [
    'relation-duplicate',
    "relation-duplicate/relation.csv:4: relation '连载网站' is listed twice (first at line 3); names must be unique",
  ],
  [
    'relation-index-gap',
    "relation-index-gap/relation.csv:4: index 3 of '出生地' leaves a gap: no relation has index 2 (indices must be 0..2 without gaps; missing 2)",
  ],
  [
    'relation-json-gap',
    "relation-json-gap/rel2id.json:4: index 3 of '连载网站' leaves a gap: no relation has index 2 (indices must be 0..2 without gaps; missing 2)",
  ],
  [
    'relation-txt-gap',
    "relation-txt-gap/relation2id.txt:2: index 2 of '出生地' leaves a gap: no relation has index 1 (indices must be 0..2 without gaps; missing 1)",
  ],
  [
    'relation-partial-types',
    "relation-partial-types/relation.csv:1: missing column 'tail_type' (the header has 'head_type'; relation.csv is head_type,tail_type,relation,index, or relation,index without types)",
  ],
  [
    'partial-offsets.csv',
    "partial-offsets.csv:1: missing column 'tail_offset' (the header has 'head_offset'; give both offset columns, or neither to take each entity's first occurrence)",
  ],
  [
    'partial-types.csv',
    "partial-types.csv:1: missing column 'head_type' (the header has 'tail_type'; give both type columns, or neither)",
  ],
  [
    'json-partial-offsets.json',
    "json-partial-offsets.json:2: missing column 'head_offset' (the first record has 'tail_offset'; give both offset columns, or neither to take each entity's first occurrence)",
  ],
  [
    'json-record-partial-offsets.json',
    "json-record-partial-offsets.json:3: has 'head_offset' but no 'tail_offset' (give both offset columns, or neither to take each entity's first occurrence)",
  ],
  [
    'semeval-missing-marker.tsv',
    'semeval-missing-marker.tsv:2: sentence needs both <e1>…</e1> and <e2>…</e2> markers',
  ],
  [
    'thunlp-field-count.txt',
    'thunlp-field-count.txt:3: expected 4 TAB-separated fields (head, tail, relation, sentence), found 3',
  ],
  [
    'broken-json-line.jsonl',
    'broken-json-line.jsonl:2: broken JSON at column 58: expected a "key", found \',\'',
  ],
  [
    'broken-json-array.json',
    "broken-json-array.json:3: broken JSON at column 45: expected ',' or '}', found '\"'",
  ],
  ['json-missing-key.json', 'json-missing-key.json:3: tail is missing or empty'],
  ['opennre-pos-outside.jsonl', 'opennre-pos-outside.jsonl:3: t.pos [4, 40] is outside the tokens (0..6)'],
];

const env = { ...process.env, REFIT_LOG: join(mkdtempSync(join(tmpdir(), 'refit-bad-')), 'refit.log') };

/** Runs the built binary; resolves with its exit status and output (never rejects on a non-zero exit). */
function refit(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['bin/refit.mjs', ...args],
      { cwd: ROOT, env, encoding: 'utf8' },
      (err, stdout, stderr) => {
        done({ status: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

before(() => {
  // the test runs the bundled binary; build it when a fresh checkout has none
  if (!existsSync(join(ROOT, 'dist/refit.mjs')))
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
});

// each case is a separate process, so they run a few at a time
describe('bad-input corpus', { concurrency: 4 }, () => {
  for (const [fixture, line] of CASES) {
    test(`data check ${fixture}: exit 2, one line naming the file`, async () => {
      const r = await refit('data', 'check', `${BAD}/${fixture}`);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, `refit: ${BAD}/${line}\n`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stdout, '');
    });
  }
});

test('on_bad_row=skip reads the good rows and says how many were skipped', async () => {
  const r = await refit('data', 'check', '--on-bad-row', 'skip', `${BAD}/offset-not-number.csv`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    `${BAD}/offset-not-number.csv: ok, deepke-csv, 1 examples, 1 relations, 1 bad rows skipped\n`,
  );
  assert.equal(r.stderr, '');
});

test('on_bad_row=warn prints one warning line per bad row', async () => {
  const r = await refit('data', 'check', '--on-bad-row', 'warn', `${BAD}/thunlp-field-count.txt`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stderr,
    `refit: warning: ${BAD}/thunlp-field-count.txt:3: expected 4 TAB-separated fields (head, tail, relation, sentence), found 3\n`,
  );
});

test('several bad files: every problem is listed, one line each', async () => {
  const r = await refit('data', 'check', `${BAD}/empty.csv`, `${BAD}/offset-not-number.csv`);
  assert.equal(r.status, 2);
  assert.deepEqual(r.stderr.trimEnd().split('\n'), [
    `refit: ${BAD}/empty.csv: file is empty`,
    `${BAD}/offset-not-number.csv:3: head_offset 'abc' is not a number`,
  ]);
});
