// FSDP2 on CPU (gloo), end to end with the real worker (issue 12): with model.dropout=0 a 2-rank fsdp run trains like
// 1 process (per-step losses within 1e-4, same test metrics), its checkpoint resumes on 1 process on the same
// trajectory, an OOM on rank 1 (which FSDP cannot drop on every rank alike) restarts the run from its last
// checkpoint with a smaller micro-batch and finishes like the clean run, and so do a killed and a hung rank 1.
// FSDP2 on CPU needs a recent torch (Debian's 2.14 runs it; 1.13 has no FSDP2, 2.6 fails in its stream events):
// run with REFIT_PYTHON=<an interpreter with such a torch> npm test; elsewhere they skip, saying why, and the last
// test checks the one-line refusal instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPython, fsdpUnsupported } from '../../src/worker/index.ts';
import { readEvents, readMetrics } from './helpers.ts';
import { closeLosses as close, lossByStep, rankRunner, sameRun, sameTest } from './distributed-helpers.ts';

/** Why FSDP2 cannot train on CPU with the worker's torch, or null when it can (the worker's own probe). */
async function fsdpMissing(): Promise<string | null> {
  const python = await findPython({ env: process.env }).then(
    (p) => p.python,
    () => null,
  );
  if (!python) return 'no Python with torch';
  const why = fsdpUnsupported(python, process.env, 'cpu');
  return why && `FSDP2 does not train on CPU with ${why}: set REFIT_PYTHON to a newer torch (2.14 runs)`;
}

const missing = await fsdpMissing();
const skip = missing ?? false;
const train = rankRunner('refit-fsdp-');
const fsdp = ['distributed.strategy=fsdp'];

let plain: ReturnType<typeof train> | undefined;
const onePlain = () => (plain ??= train('plain'));

test(
  '2 fsdp ranks train like 1 process: per-step losses within 1e-4, the same test metrics',
  { skip },
  async () => {
    const one = await onePlain();
    const sharded = await train('fsdp', { ranks: 2, micro: 2, overrides: fsdp });
    close(lossByStep(sharded.run_dir), lossByStep(one.run_dir), 'fsdp vs 1 process');
    sameTest(readMetrics(sharded.run_dir), readMetrics(one.run_dir));
    assert.match(readFileSync(join(sharded.run_dir, 'refit.log'), 'utf8'), /2 ranks .*fsdp/);
  },
);

test('a 2-rank fsdp checkpoint resumes on 1 process on the same trajectory', { skip }, async () => {
  const one = await onePlain();
  await assert.rejects(
    train('switch', { ranks: 2, micro: 2, stop_after: 4, overrides: fsdp }),
    /interrupted/,
  );
  const resumed = await train('switch', { resume: true, micro: 2 });
  assert.ok(readEvents(resumed.run_dir).some((e) => e.event === 'resume' && e.from_step === 4));
  close(lossByStep(resumed.run_dir), lossByStep(one.run_dir), 'fsdp on 2 ranks, then 1 process');
});

test(
  'an OOM on rank 1 under fsdp restarts from the checkpoint with a smaller micro-batch and ends like a clean run',
  { skip },
  async () => {
    const one = await onePlain();
    const state = mkdtempSync(join(tmpdir(), 'refit-fsdp-inject-'));
    const hurt = await train('oom', {
      ranks: 2,
      micro: 2,
      overrides: fsdp,
      env: { REFIT_INJECT_OOM: '5@1', REFIT_INJECT_STATE: state },
    });
    const events = readEvents(hurt.run_dir);
    const oom = events.find((e) => e.event === 'oom');
    assert.ok(oom, 'an oom event');
    assert.equal(oom.rank, 1);
    assert.equal(oom.step, 5);
    const recovery = events.find((e) => e.event === 'recovery');
    assert.ok(recovery && recovery.action === 'smaller_micro_batch', JSON.stringify(recovery));
    assert.equal(recovery.to, 2, 'never below one example a rank');
    assert.ok(events.some((e) => e.event === 'restart' && e.resume_step === 3));
    sameRun(hurt.run_dir, one.run_dir);
  },
);

test(
  'a killed rank 1 under fsdp stops every rank; the run resumes from its checkpoint and ends like a clean run',
  { skip },
  async () => {
    const one = await onePlain();
    const state = mkdtempSync(join(tmpdir(), 'refit-fsdp-inject-'));
    const killed = await train('killed', {
      ranks: 2,
      micro: 2,
      overrides: fsdp,
      env: { REFIT_INJECT_CRASH: '5@1', REFIT_INJECT_STATE: state },
    });
    const restarts = readEvents(killed.run_dir).filter((e) => e.event === 'restart');
    assert.equal(restarts.length, 1);
    assert.equal(restarts[0].resume_step, 3);
    assert.match(restarts[0].reason, /rank 1 died/);
    sameRun(killed.run_dir, one.run_dir);
  },
);

test(
  'a hung rank 1 under fsdp is caught by the collective timeout; the run resumes like a clean one',
  { skip },
  async () => {
    const one = await onePlain();
    const state = mkdtempSync(join(tmpdir(), 'refit-fsdp-inject-'));
    const hung = await train('hung', {
      ranks: 2,
      micro: 2,
      overrides: fsdp,
      env: { REFIT_INJECT_HANG: '5@1', REFIT_INJECT_STATE: state, REFIT_DIST_TIMEOUT_S: '8' },
    });
    assert.equal(readEvents(hung.run_dir).filter((e) => e.event === 'restart').length, 1);
    assert.match(readFileSync(join(hung.run_dir, 'refit.log'), 'utf8'), /a collective timed out after 8 s/);
    sameRun(hung.run_dir, one.run_dir);
  },
);

test(
  'fsdp where FSDP2 cannot train on CPU: refused in one line naming the torch',
  { skip: !missing },
  async () => {
    const err = await train('refused', { ranks: 2, micro: 2, overrides: fsdp }).catch((e) => e);
    assert.ok(err instanceof Error, 'refused');
    assert.match(err.message, /distributed\.strategy fsdp.*torch (is )?\d/);
    assert.ok(!err.message.includes('\n'), err.message);
  },
);
