// Issue 22, items 3 and 5, against the real binary and worker: each probe of bench/faults/checkpoint.probes.ts runs as
// one test here (the same probes write their rows to bench/results/ via bench/faults.ts), except those that train
// or run the binary many times (`sweep: true`: a damaged newest checkpoint resumed from the one before, the worker or
// refit killed during a save, last.json without each of its fields), which only the fault suite runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROBES } from '../../bench/faults/checkpoint.probes.ts';
import { probeContexts } from '../../bench/faults/context.ts';

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const base = mkdtempSync(join(tmpdir(), 'refit-checkpoint-faults-'));

const context = probeContexts({ root: ROOT, base, env: { REFIT_LOG: join(base, 'cli.log') } });

if (!existsSync(join(ROOT, 'dist/refit.mjs')))
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });

for (const p of PROBES.filter((p) => !p.sweep)) {
  test(`item ${p.item}: ${p.did} → ${p.expected}`, async () => {
    const r = await p.run(context());
    assert.ok(r.ok, r.happened);
  });
}
