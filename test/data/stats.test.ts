// `refit data stats` through its command (registerData on a fresh program, so other commands' state does not matter): the JSON array (relations, lengths, WordPiece truncation counts,
// duplicates, train overlap) and the text table, on a small folder written to a temp dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerData } from '../../src/cli/commands/data.ts';
import { RunLog } from '../../src/log.ts';
import { summarize } from '../../src/data/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ZH_VOCAB = resolve(ROOT, '../shared/assets/bert-vocab/google_zh_vocab.txt');
const H = 'sentence,relation,head,head_offset,tail,tail_offset\n';

async function refit(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { stdout: '', stderr: '' };
  out.on('data', (c) => {
    chunks.stdout += c;
  });
  err.on('data', (c) => {
    chunks.stderr += c;
  });
  const ctx = {
    io: { stdout: out, stderr: err, stdin: new PassThrough() },
    env: {},
    log: new RunLog(),
    verbose: false,
    exitCode: 0,
  };
  const program = new Command('refit').exitOverride();
  registerData(program, ctx);
  await program.parseAsync(argv, { from: 'user' });
  return { code: ctx.exitCode, ...chunks };
}

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'refit-stats-'));
  writeFileSync(
    join(dir, 'relation.csv'),
    'head_type,tail_type,relation,index\nNone,None,None,0\n人物,地点,出生地,1\n人物,国家,国籍,2\n',
  );
  writeFileSync(
    join(dir, 'train.csv'),
    H +
      '张三去北京,出生地,张三,0,北京,3\n李四是中国人,国籍,李四,0,中国,3\n王五生于上海,出生地,王五,0,上海,4\n',
  );
  // valid: one example also in train (same text and spans, other label), and one duplicated inside valid
  writeFileSync(
    join(dir, 'valid.csv'),
    H +
      '张三去北京,国籍,张三,0,北京,3\n赵六生于天津市,出生地,赵六,0,天津,4\n赵六生于天津市,出生地,赵六,0,天津,4\n',
  );
  return dir;
}

test('summarize: mean, nearest-rank p50/p95, max', () => {
  assert.deepEqual(summarize([1, 2, 3, 4, 100]), { mean: 22, p50: 3, p95: 100, max: 100 });
  assert.deepEqual(summarize([]), { mean: 0, p50: 0, p95: 0, max: 0 });
});

test('data stats --json: one object per file with relations, chars, duplicates and train overlap', async () => {
  const dir = folder();
  const r = await refit('data', 'stats', '--json', dir);
  assert.equal(r.code, 0, r.stderr);
  const [train, valid] = JSON.parse(r.stdout);
  assert.deepEqual(train, {
    path: join(dir, 'train.csv'),
    format: 'deepke-csv',
    examples: 3,
    skipped_rows: 0,
    na_label: 'None',
    relations: { 出生地: 2, 国籍: 1 },
    chars: { mean: 5.67, p50: 6, p95: 6, max: 6 },
    offset_fallbacks: 0,
    duplicates: 0,
  });
  assert.equal(valid.duplicates, 1);
  assert.equal(valid.train_overlap, 1);
  assert.deepEqual(valid.relations, { 出生地: 2, 国籍: 1 });
});

test(
  'data stats --vocab: WordPiece lengths include [CLS], [SEP] and four markers',
  { skip: !existsSync(ZH_VOCAB) && 'needs ../shared (vocab)' },
  async () => {
    const dir = folder();
    const long = '长'.repeat(300);
    writeFileSync(
      join(dir, 'test.csv'),
      H + `${long}张三去北京,出生地,张三,300,北京,303\n张三去北京,出生地,张三,0,北京,3\n`,
    );
    const r = await refit('data', 'stats', '--json', '--vocab', ZH_VOCAB, dir);
    assert.equal(r.code, 0, r.stderr);
    const test = JSON.parse(r.stdout)[2];
    // Chinese BERT splits every CJK character: 305 + 6 and 5 + 6
    assert.deepEqual(test.tokens, {
      mean: 161,
      p50: 11,
      p95: 311,
      max: 311,
      over_128: 1,
      over_256: 1,
      over_512: 0,
    });
    assert.equal(test.train_overlap, 1);
  },
);

test('data stats (text): a table plus one relation line per file', async () => {
  const r = await refit('data', 'stats', folder());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^file\s+format\s+examples/);
  assert.match(r.stdout, /train\.csv: 2 relations \(NA: None\): 出生地 2, 国籍 1/);
});
