// Two refit processes on this machine as two nodes (issue 12): distributed.nnodes=2, node_rank 0 and 1,
// master_addr=127.0.0.1 and one port train one model together (gloo, CPU); only node 0 writes the run folder, and
// the run equals a 1-process run with the same seed and effective batch. The built binary, the real worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoDataArgs, writeDemoData } from '../web/tiny-run.ts';
import { freePort } from '../../src/worker/index.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'refit-e2e-nodes-'));
const env: Record<string, string | undefined> = {
  ...process.env,
  REFIT_LOG: join(dir, 'cli.log'),
  REFIT_CACHE: join(dir, 'cache'),
};
for (const k of [
  'REFIT_INJECT_OOM',
  'REFIT_INJECT_CRASH',
  'REFIT_INJECT_STATE',
  'RANK',
  'WORLD_SIZE',
  'LOCAL_RANK',
  'MASTER_ADDR',
  'MASTER_PORT',
])
  delete env[k];

function refit(args: string[], cwd = ROOT): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin/refit.mjs'), ...args],
      { cwd, env, encoding: 'utf8', maxBuffer: 1 << 24, timeout: 180_000 },
      (err, stdout, stderr) => {
        done({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const data = writeDemoData(dir, { train: 64, valid: 16, test: 24 }, 11);
const trainArgs = [
  ...demoDataArgs(data),
  'model.preset=bert-tiny',
  'model.dropout=0',
  'train.epochs=1',
  'train.batch_size=16',
  'memory.max_seq_len=64',
  'memory.mode=manual',
  'device=cpu',
  'export.onnx=false',
  '--progress',
  'jsonl',
  '--threads',
  '1',
];
const losses = (run: string) =>
  readFileSync(join(run, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.event === 'step')
    .map((e) => e.loss as number);

test('two refit processes with distributed.nnodes=2 train one model; only node 0 writes the run folder', async () => {
  if (!existsSync(join(ROOT, 'dist/refit.mjs')))
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
  const port = await freePort();
  const nodes = (rank: number) => [
    'distributed.nnodes=2',
    `distributed.node_rank=${rank}`,
    'distributed.master_addr=127.0.0.1',
    `distributed.master_port=${port}`,
    'memory.micro_batch_size=2',
  ];
  const node1cwd = mkdtempSync(join(tmpdir(), 'refit-e2e-node1-'));
  const [n0, n1] = await Promise.all([
    refit(['train', ...trainArgs, ...nodes(0), '--out', join(dir, 'two-nodes')]),
    refit(['train', ...trainArgs, ...nodes(1), '--out', join(node1cwd, 'not-written')], node1cwd),
  ]);
  assert.equal(n0.status, 0, n0.stderr);
  assert.equal(n1.status, 0, n1.stderr);
  assert.match(n1.stderr, /follows rank 0/);
  assert.deepEqual(readdirSync(node1cwd), [], 'node 1 wrote nothing');
  const one = await refit(['train', ...trainArgs, 'memory.micro_batch_size=4', '--out', join(dir, 'one')]);
  assert.equal(one.status, 0, one.stderr);
  const a = losses(join(dir, 'two-nodes')),
    b = losses(join(dir, 'one'));
  assert.equal(a.length, 4);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= 1e-4 * b[i], `step ${i + 1}: ${x} vs ${b[i]}`));
  assert.match(readFileSync(join(dir, 'two-nodes', 'refit.log'), 'utf8'), /2 ranks \(1 per node × 2 nodes\)/);
});

test('under torchrun or Slurm (RANK, WORLD_SIZE, MASTER_ADDR/PORT set) each refit joins that group: rank 0 trains, rank 1 follows', async () => {
  const port = await freePort();
  const rankEnv = (rank: number) => ({
    RANK: String(rank),
    LOCAL_RANK: String(rank),
    WORLD_SIZE: '2',
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
  });
  const run = (rank: number, args: string[], cwd: string) =>
    new Promise<{ status: number; stderr: string }>((done) => {
      execFile(
        process.execPath,
        [join(ROOT, 'bin/refit.mjs'), ...args],
        { cwd, env: { ...env, ...rankEnv(rank) }, encoding: 'utf8', timeout: 180_000 },
        (err, _stdout, stderr) => done({ status: err ? Number(err.code ?? 1) : 0, stderr }),
      );
    });
  const cwd1 = mkdtempSync(join(tmpdir(), 'refit-e2e-rank1-'));
  const [r0, r1] = await Promise.all([
    run(0, ['train', ...trainArgs, 'memory.micro_batch_size=2', '--out', join(dir, 'torchrun')], ROOT),
    run(1, ['train', ...trainArgs, 'memory.micro_batch_size=2', '--out', join(cwd1, 'not-written')], cwd1),
  ]);
  assert.equal(r0.status, 0, r0.stderr);
  assert.equal(r1.status, 0, r1.stderr);
  assert.match(r1.stderr, /joined the group of RANK 1 of WORLD_SIZE 2 .*follows rank 0/);
  assert.deepEqual(readdirSync(cwd1), []);
  assert.equal(losses(join(dir, 'torchrun')).length, 4);
});
