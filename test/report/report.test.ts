// refit report: report.html from a run folder (self-contained, offline) and the one-line errors for bad folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  appendFileSync,
  existsSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  mkdtempSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { EventsTail, writeReport, readRunParts, summarizeRun } from '../../src/report/index.ts';
import { writeSyntheticRun } from './synthetic-run.ts';

const CLI = new URL('../../bin/refit.mjs', import.meta.url).pathname;
const BUILT = existsSync(new URL('../../dist/refit.mjs', import.meta.url));

test('summarizeRun turns events into aligned step series, evals, incidents and the plan', () => {
  const m = summarizeRun(readRunParts(writeSyntheticRun({ steps: 20 })));
  assert.equal(m.status, 'finished');
  assert.equal(m.total_steps, 20);
  assert.equal(m.steps.step.length, 20);
  assert.equal(m.steps.mem_allocated.length, 20);
  assert.equal(m.evals.length, 2);
  assert.deepEqual(
    m.incidents.map((i) => i.event),
    ['oom', 'recovery'],
  );
  assert.equal(m.plan?.budget_bytes, 2 * 2 ** 30);
  assert.equal(m.device, 'cuda');
});

test('writeReport writes one self-contained report.html with no network references', async () => {
  const dir = writeSyntheticRun();
  const path = await writeReport({ run_dir: dir });
  assert.equal(path, join(dir, 'report.html'));
  const html = readFileSync(path, 'utf8');
  assert.match(html, /Chart\.js v4/); // Chart.js inlined
  assert.match(html, /function drawRunReport/); // drawing code inlined
  assert.doesNotMatch(html, /<script[^>]+src=/); // nothing loaded from elsewhere
  assert.doesNotMatch(html, /<link[^>]+href=/);
  assert.ok(html.includes('"budget_bytes":2147483648'));
  assert.ok(!existsSync(path + `.tmp-${process.pid}`));
});

test('a torn last events line (run still writing) is fine; a bad middle line names PATH:LINE', async () => {
  const dir = writeSyntheticRun({ steps: 5, finished: false });
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, readFileSync(events, 'utf8') + '{"event":"step","st');
  assert.equal(summarizeRun(readRunParts(dir)).status, 'running');
  writeFileSync(events, '{"event":"run_start"}\nnot json\n{"event":"run_end"}\n');
  await assert.rejects(writeReport({ run_dir: dir }), {
    code: 'E_RUN_EVENTS',
    message: `${events}:2: not valid JSON`,
  });
});

test(
  'refit report --run DIR writes the report; bad folders exit 2 with one line',
  { skip: !BUILT && 'needs npm run build' },
  () => {
    const dir = writeSyntheticRun({ steps: 8 });
    const ok = spawnSync(process.execPath, [CLI, 'report', '--run', dir], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, `wrote ${join(dir, 'report.html')}\n`);
    const missing = join(mkdtempSync(join(tmpdir(), 'refit-report-')), 'nope');
    const r1 = spawnSync(process.execPath, [CLI, 'report', '--run', missing], { encoding: 'utf8' });
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /^refit: .*nope: no such run folder .*\n$/);
    rmSync(join(dir, 'events.jsonl'));
    const r2 = spawnSync(process.execPath, [CLI, 'report', '--run', dir], { encoding: 'utf8' });
    assert.equal(r2.status, 2);
    assert.equal(r2.stderr, `refit: ${join(dir, 'events.jsonl')}: missing; is ${dir} a refit run folder?\n`);
  },
);

test('EventsTail reads only appended complete lines, and starts over when the file is replaced', () => {
  const dir = writeSyntheticRun({ steps: 2, finished: false });
  const path = join(dir, 'events.jsonl');
  const tail = new EventsTail(path);
  assert.equal(tail.read().length, 3);
  appendFileSync(path, '{"event":"step","step":3}\n{"event":"st');
  assert.equal(tail.read().length, 4); // the torn line waits
  appendFileSync(path, 'ep","step":4}\n');
  assert.deepEqual(
    tail.read().map((e) => e.step),
    [undefined, 1, 2, 3, 4],
  );
  writeFileSync(path + '.new', '{"event":"run_start"}\n');
  renameSync(path + '.new', path); // a restarted run (--force) replaces the file
  assert.equal(tail.read().length, 1);
  assert.deepEqual(new EventsTail(join(dir, 'absent.jsonl')).read(), []);
});

test('a failed run shows as failed with its error line among the incidents', () => {
  const dir = writeSyntheticRun({ steps: 3, finished: false });
  appendFileSync(
    join(dir, 'events.jsonl'),
    JSON.stringify({
      event: 'run_end',
      status: 'failed',
      optimizer_steps: 3,
      error: 'worker crashed: exit 137\nmore',
    }) + '\n',
  );
  const m = summarizeRun(readRunParts(dir));
  assert.equal(m.status, 'failed');
  assert.deepEqual(m.incidents.at(-1), {
    event: 'failed',
    step: 3,
    text: 'worker crashed: exit 137',
    memory_bytes: null,
  });
});
