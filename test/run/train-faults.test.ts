// Issue 10 items 6, 11, 12 against the real binary and worker: each probe of bench/faults/train.probes.ts runs as one
// test here (the same probes write their rows to bench/results/faults.md via bench/faults.ts), except the long sweeps
// (`sweep: true`: two trains on one folder and a stale lock, item 7; SIGINT/SIGTERM mid-training, item 8; SIGKILL and
// resume, item 9; a safe --resume that trains on; a disk filled mid-run and the default cache folder, item 11),
// which only the fault suite runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROBES } from '../../bench/faults/train.probes.ts';
import { probeContexts } from '../../bench/faults/context.ts';

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const base = mkdtempSync(join(tmpdir(), 'refit-train-faults-'));

const context = probeContexts({ root: ROOT, base, env: { REFIT_LOG: join(base, 'cli.log') } });

if (!existsSync(join(ROOT, 'dist/refit.mjs')))
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });

for (const p of PROBES.filter((p) => !p.sweep)) {
  test(`item ${p.item}: ${p.did} → ${p.expected}`, async () => {
    const r = await p.run(context());
    assert.ok(r.ok, r.happened);
  });
}
