// refit serve's start-up errors through the built binary: exit 2 and one line, nothing started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CLI, NO_CLI } from '../web/tiny-run.ts';
import { writeSyntheticRun } from '../report/synthetic-run.ts';

const refit = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });

test('refit serve: bad folders and options exit 2 with one line', { skip: NO_CLI }, () => {
  const run = writeSyntheticRun({ steps: 3 });
  const cases: Array<{ args: string[]; stderr: string }> = [
    {
      args: ['serve', '--run', join(run, 'nope')],
      stderr: `refit: ${join(run, 'nope')}: no such run folder (pass the folder refit train wrote)\n`,
    },
    {
      args: ['serve', '--run', run],
      stderr: `refit: ${join(run, 'model')}: no trained model here (train first: refit train ... --out ${run})\n`,
    },
    {
      args: ['serve', '--run', run, '--port', '70000'],
      stderr: 'refit: --port 70000: must be an integer 0..65535 (0 = any free port)\n',
    },
    {
      args: ['serve', '--run', run, '--threads', 'two'],
      stderr: 'refit: --threads two: expected an integer ≥ 1\n',
    },
    {
      args: ['serve', '--run', run, '--body-timeout', '0'],
      stderr: 'refit: --body-timeout 0: must be a number of seconds, more than 0 and at most 3600\n',
    },
    {
      args: ['serve', '--run', run, '--keep-alive-timeout', 'soon'],
      stderr: 'refit: --keep-alive-timeout soon: must be a number of seconds, more than 0 and at most 3600\n',
    },
    {
      args: ['serve', '--run', run, '--max-connections', '0'],
      stderr: 'refit: --max-connections 0: must be an integer 1..1000000\n',
    },
    {
      args: ['serve', '--run', run, '--max-restarts', '-1'],
      stderr: 'refit: --max-restarts -1: must be an integer 0..1000000\n',
    },
  ];
  for (const c of cases) {
    const r = refit(...c.args);
    assert.equal(r.status, 2, c.args.join(' '));
    assert.equal(r.stderr, c.stderr);
  }
});
