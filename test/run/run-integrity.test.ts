// A run folder that cannot lie: a torn events.jsonl line (a full disk) is ended before the next append and skipped
// (and named) by its readers, and the run lock tells a reused PID from its owner (boot id + PID + start time).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendJsonLine } from '../../src/session/run-files.ts';
import { bootId, lockRunFolder, LOCK_FILE, processStart } from '../../src/run/lock.ts';
import { parseEvents, readRunParts, summarizeRun, writeReport } from '../../src/report/index.ts';
import { writeSyntheticRun } from '../report/synthetic-run.ts';

const CLI = new URL('../../bin/refit.mjs', import.meta.url).pathname;
const BUILT = existsSync(new URL('../../dist/refit.mjs', import.meta.url));
const dir = () => mkdtempSync(join(tmpdir(), 'refit-integrity-'));
const LINUX = existsSync('/proc/self/stat');

test('an append after a torn last line ends it first: the new event stays a line of its own', () => {
  const path = join(dir(), 'events.jsonl');
  appendJsonLine(path, { event: 'run_start', step: 0 });
  appendFileSync(path, '{"event":"step","step":1,"lo'); // a write cut short by a full disk
  appendJsonLine(path, { event: 'resume', from_step: 0 });
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.deepEqual(lines, ['{"event":"run_start","step":0}', '{"event":"step","step":1,"lo', lines[2], '']);
  assert.deepEqual(JSON.parse(lines[2]), { event: 'resume', from_step: 0 });
  const torn: number[] = [];
  const events = parseEvents(readFileSync(path, 'utf8'), assert.fail, (line) => torn.push(line));
  assert.deepEqual(
    events.map((e) => e.event),
    ['run_start', 'resume'],
  );
  assert.deepEqual(torn, [2]);
});

test('a resume event glued onto a torn line (written before appends ended it) is kept, the torn part named', () => {
  const events = parseEvents(
    '{"event":"run_start"}\n{"event":"step","step":3,"lo{"event":"resume","from_step":2}\n{"event":"step","step":3}\n',
    assert.fail,
    (line, what) =>
      assert.equal(
        `${line}: ${what}`,
        '2: a torn event line was skipped; the resume event written onto it was kept',
      ),
  );
  assert.deepEqual(
    events.map((e) => e.event),
    ['run_start', 'resume', 'step'],
  );
});

test('refit report on a run with torn lines: the report is written, says what it skipped, and exits 0', async () => {
  const run = writeSyntheticRun({ steps: 4, finished: false });
  const events = join(run, 'events.jsonl');
  appendFileSync(events, '{"event":"step","step":5,"loss":0.');
  appendJsonLine(events, { event: 'resume', from_step: 4 });
  appendFileSync(events, '{"event":"step","st'); // and one torn at the very end
  const parts = readRunParts(run);
  const lines = readFileSync(events, 'utf8').split('\n').length;
  assert.deepEqual(parts.skipped, [
    `${events}:${lines - 2}: a torn event line was skipped`,
    `${events}:${lines}: a torn last line (no newline: still being written, or its write was cut short) was skipped`,
  ]);
  const m = summarizeRun(parts);
  assert.equal(m.incidents.filter((i) => i.event === 'skipped').length, 2);
  assert.ok(m.incidents.some((i) => i.event === 'resume'));
  // Live (the server): a torn last line is a line still being written, not worth a word.
  assert.equal(readRunParts(run, { live: true }).skipped?.length, 1);
  const notes: string[] = [];
  await writeReport({ run_dir: run, note: (l) => notes.push(l) });
  assert.equal(notes.length, 2);
  assert.match(readFileSync(join(run, 'report.html'), 'utf8'), /a torn event line was skipped/);
  if (!BUILT) return;
  const r = spawnSync(process.execPath, [CLI, 'report', '--run', run], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `wrote ${join(run, 'report.html')}\n`);
  assert.match(r.stderr, /^refit: note: .*events\.jsonl:\d+: a torn event line was skipped\n/);
});

test(
  'the lock records what makes its owner unique: boot id, PID and the PID start time',
  { skip: !LINUX },
  () => {
    const d = dir();
    const lock = lockRunFolder(d);
    const info = JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8'));
    assert.equal(info.boot_id, bootId());
    assert.equal(info.pid_start, processStart(process.pid));
    assert.match(info.pid_start, /^\d+$/);
    lock.release();
    assert.ok(!existsSync(join(d, LOCK_FILE)));
  },
);

test(
  'a lock whose PID was reused is stale — even when the PID is the very process asking',
  { skip: !LINUX },
  () => {
    const d = dir();
    const write = (v: Record<string, unknown>) =>
      writeFileSync(
        join(d, LOCK_FILE),
        JSON.stringify({
          host: hostname(),
          started: 'then',
          command: 'refit train',
          boot_id: bootId(),
          ...v,
        }),
      );
    const logs: string[] = [];
    const log = (l: string) => logs.push(l);
    // refit as PID 1 in a restarted container: the lock names this very PID, started at another time.
    write({ pid: process.pid, pid_start: '1' });
    lockRunFolder(d, 'refit train', { log }).release();
    assert.match(logs.pop()!, new RegExp(`stale lock \\(pid ${process.pid} is now another process\\)`));
    // A live PID that another process now holds (here: the parent, with a start time that is not its own).
    write({ pid: process.ppid, pid_start: String(Number(processStart(process.ppid)) + 1) });
    lockRunFolder(d, 'refit train', { log }).release();
    assert.match(logs.pop()!, /is now another process/);
    // A lock from an earlier boot of this machine.
    write({ pid: process.ppid, pid_start: processStart(process.ppid), boot_id: 'another-boot' });
    lockRunFolder(d, 'refit train', { log }).release();
    assert.match(logs.pop()!, /before this machine restarted/);
    // The live owner itself is still refused (exit 1, one line).
    write({ pid: process.ppid, pid_start: processStart(process.ppid) });
    assert.throws(() => lockRunFolder(d), { code: 'E_RUN_LOCKED' });
    // A PID that is gone (an old lock without the new fields included).
    const dead = Number(
      execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString(),
    );
    writeFileSync(
      join(d, LOCK_FILE),
      JSON.stringify({ pid: dead, host: hostname(), started: 'then', command: 'x' }),
    );
    lockRunFolder(d).release();
  },
);
