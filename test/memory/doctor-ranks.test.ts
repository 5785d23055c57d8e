// The doctor on multi-rank logs (issue 12, item 6): torchrun's `[rankN]:` prefixes, its elastic failure summary,
// NCCL errors and collective timeouts on the other ranks, and refit's own run log name the rank that ran out; a DeepKE
// config with use_multi_gpu gets DataParallel's GPU-0 load explained and the one-process-per-GPU config (built binary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseOomReport } from '../../src/memory/index.ts';
import { makeDeepkeProject } from '../config/deepke-project.ts';

const OOM =
  'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 192.00 MiB. GPU 1 has a total capacity of 11.75 GiB of which 89.25 MiB is free. ' +
  'Including non-PyTorch memory, this process has 11.65 GiB memory in use. Of the allocated memory 9.90 GiB is allocated by PyTorch, and 69.53 MiB is reserved by PyTorch but unallocated.';

test("torchrun prefixes: the OOM of rank 1 among rank 0's NCCL watchdog timeout", () => {
  const log = [
    '[rank0]: Epoch 1:  12%|█▏        | 110/912 [00:41<05:02,  2.65it/s]',
    '[rank1]: Traceback (most recent call last):',
    '[rank1]:   File "train.py", line 88, in <module>',
    `[rank1]: ${OOM}`,
    '[rank0]:[E ProcessGroupNCCL.cpp:475] [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1204, OpType=ALLREDUCE, NumelIn=6291456, NumelOut=6291456, Timeout(ms)=1800000) ran for 1800441 milliseconds before timing out.',
  ].join('\n');
  const r = parseOomReport(log);
  assert.equal(r.kind, 'allocator-oom');
  assert.equal(r.rank, 1);
  assert.equal(r.requested_bytes, 192 * 2 ** 20);
  assert.match(
    r.rank_note ?? '',
    /rank 1 ran out of memory; the collective timeouts or NCCL\/gloo errors of the other ranks follow from it/,
  );
});

test("no prefixes: the rank comes from torchrun's elastic failure summary", () => {
  const log = [
    OOM,
    'torch.distributed.elastic.multiprocessing.errors.ChildFailedError:',
    '============================================================',
    'train.py FAILED',
    '------------------------------------------------------------',
    'Failures:',
    '  <NO_OTHER_FAILURES>',
    '------------------------------------------------------------',
    'Root Cause (first observed failure):',
    '[0]:',
    '  time      : 2024-05-02_10:11:12',
    '  host      : gpu-node-3',
    '  rank      : 2 (local_rank: 2)',
    '  exitcode  : 1 (pid: 41235)',
    '  error_file: <N/A>',
  ].join('\n');
  assert.equal(parseOomReport(log).rank, 2);
});

test("refit's run log names the rank that ran out; a single-process log names none", () => {
  const log = `2026-12-01T07:22:11Z worker[123] refit_worker: out of memory in step 3, micro-batch 0 on rank 1: ${OOM}`;
  assert.equal(parseOomReport(log).rank, 1);
  // fsdp: the rank's own last line before every rank stops, as refit.log keeps it (time stamp, then [rankN]:).
  const fsdp = `2026-12-01T09:36:08.060Z [rank1]: refit_worker: rank 1: out of memory under fsdp at step 5, micro-batch 0: ${OOM}`;
  assert.equal(parseOomReport(fsdp).rank, 1);
  assert.equal(parseOomReport(OOM).rank, undefined);
  assert.equal(parseOomReport(OOM).rank_note, undefined);
});

test('an NCCL error or a collective timeout alone is not an OOM, and says what it is', () => {
  const r = parseOomReport(
    '[rank0]: RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1191, remote process exited or there was a network error, NCCL version 2.18.1\nncclRemoteError: A call failed possibly due to a network error or a remote process exiting prematurely.',
  );
  assert.equal(r.kind, 'not-oom');
  assert.ok(r.look_alikes?.some((l) => /NCCL error/.test(l)));
  const t = parseOomReport(
    'refit_worker: rank 0: a collective timed out after 1800 s waiting for the other ranks (a rank hung; REFIT_DIST_TIMEOUT_S sets the limit)',
  );
  assert.ok(t.look_alikes?.some((l) => /collective timeout/.test(l)));
});

test("doctor -c conf/ with use_multi_gpu explains DataParallel's load on GPU 0 and gives the one-process-per-GPU config", () => {
  const CLI = new URL('../../bin/refit.mjs', import.meta.url).pathname;
  const LOG = new URL('../fixtures/oom/deepke-issue-1.4.log', import.meta.url).pathname;
  const project = makeDeepkeProject();
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      'doctor',
      LOG,
      '-c',
      join(project, 'conf'),
      'use_multi_gpu=true',
      'gpu_ids=0,1',
      'num_hidden_layers=12',
      '--gpu',
      'RTX 3060',
      '--json',
    ],
    { encoding: 'utf8', env: { ...process.env, REFIT_LOG: join(project, 'refit.log') } },
  );
  assert.equal(r.status, 0, r.stderr);
  const fix = JSON.parse(r.stdout).fixes.find(
    (f: { config?: Record<string, unknown> }) => f.config?.['distributed.nproc_per_node'] === 2,
  );
  assert.ok(fix, r.stdout);
  assert.match(
    fix.detail,
    /nn\.DataParallel: one process whose GPU 0 receives the whole batch's inputs, gathers every replica's outputs/,
  );
  assert.ok(['ddp', 'zero1'].includes(fix.config['distributed.strategy']));
  assert.ok(fix.predicted_peak_bytes > 0);
});
