// The training pipeline writes the run's report (issue 11): runTraining calls the write_report it is given at the end
// of every run that leaves a folder, finished or failed; the CLI only passes report/writeReport in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining } from '../../src/run/index.ts';
import { writeReport } from '../../src/report/index.ts';
import { readEvents, runEnv, tinyConfig, tinyData } from './helpers.ts';

const data = tinyData();
const base = mkdtempSync(join(tmpdir(), 'refit-report-hook-'));
const train = (
  name: string,
  o: { env?: Record<string, string>; write_report: (run_dir: string) => Promise<unknown> },
) =>
  runTraining({
    config: tinyConfig(data, ['train.epochs=1']),
    out: join(base, name),
    env: runEnv(o.env),
    num_threads: 1,
    max_restarts: 0,
    write_report: o.write_report,
  });

test('a run started through runTraining (not the CLI) ends with its report.html', async () => {
  const calls: string[] = [];
  const r = await train('ok', {
    write_report: (run_dir) => {
      calls.push(run_dir);
      return writeReport({ run_dir });
    },
  });
  assert.deepEqual(calls, [r.run_dir], 'called once, with the run folder');
  assert.match(readFileSync(join(r.run_dir, 'report.html'), 'utf8'), /<html/i);
});

test("a failed run gets its report too; a report that cannot be written is a log line, not the run's error", async () => {
  const out = join(base, 'crashed');
  await assert.rejects(
    train('crashed', {
      env: { REFIT_INJECT_CRASH: '3' },
      write_report: (run_dir) => writeReport({ run_dir }),
    }),
  );
  assert.equal(readEvents(out).at(-1)?.status, 'failed');
  assert.ok(existsSync(join(out, 'report.html')), 'report.html of the failed run');

  const r = await train('unwritable', {
    write_report: async () => {
      throw new Error('disk full');
    },
  });
  assert.ok(r.metrics.test, 'the run finished');
  assert.match(
    readFileSync(join(r.run_dir, 'refit.log'), 'utf8'),
    /report\.html not written: Error: disk full/,
  );
});
