// `refit doctor` through the built binary: exit codes, the exact --json fields, stdin, -c with planned fixes,
// and one-line errors for a missing file or a bad config.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'refit.mjs');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'oom');
const GIB = 2 ** 30;
let tmp = '';

before(() => {
  if (!existsSync(join(ROOT, 'dist', 'refit.mjs'))) {
    const built = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
  }
  tmp = mkdtempSync(join(tmpdir(), 'refit-doctor-'));
});

function doctor(args: string[], input?: string) {
  const res = spawnSync(process.execPath, [CLI, 'doctor', ...args], {
    cwd: tmp,
    input,
    encoding: 'utf8',
    env: { ...process.env, REFIT_LOG: join(tmp, 'refit.log') },
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

test('the quoted DeepKE message: exit 0, exactly the byte fields it carries, capacity', () => {
  const res = doctor([join(FIXTURES, 'deepke-issue-1.4.log'), '--json']);
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stderr, '');
  const out = JSON.parse(res.stdout);
  assert.deepEqual(Object.keys(out), [
    'kind',
    'device_index',
    'requested_bytes',
    'total_bytes',
    'free_bytes',
    'allocated_bytes',
    'reserved_bytes',
    'reserved_unallocated_bytes',
    'diagnosis',
    'fixes',
  ]);
  assert.equal(out.kind, 'allocator-oom');
  assert.equal(out.requested_bytes, 201326592);
  assert.equal(out.reserved_unallocated_bytes, out.reserved_bytes - out.allocated_bytes);
  assert.deepEqual(Object.keys(out.diagnosis), ['cause', 'explanation']);
  assert.equal(out.diagnosis.cause, 'capacity');
  assert.ok(out.fixes.length >= 4);
  for (const fix of out.fixes) assert.ok(fix.title && fix.detail && fix.speed);
});

test('text output names the cause and the numbers', () => {
  const res = doctor([join(FIXTURES, 'v2.11-fraction-cap.log')]);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /cause: memory-fraction/);
  assert.match(res.stdout, /11\.75 GiB/);
});

test('stdin: "-" and a piped stdin without a file read the same report', () => {
  const text = readFileSync(join(FIXTURES, 'v2.2-private-pools.log'), 'utf8');
  const fromFile = JSON.parse(doctor([join(FIXTURES, 'v2.2-private-pools.log'), '--json']).stdout);
  const dash = doctor(['-', '--json'], text);
  const piped = doctor(['--json'], text);
  assert.equal(dash.status, 0, dash.stderr);
  assert.deepEqual(JSON.parse(dash.stdout), fromFile);
  assert.deepEqual(JSON.parse(piped.stdout), fromFile);
});

test("a host OOM whose Killed follows a progress bar on the same line (tqdm's \\r): host-oom, from a file and from stdin", () => {
  for (const name of ['killed-after-progress-bar.log', 'killed-after-progress-bar-cr.log']) {
    const file = join(FIXTURES, name);
    for (const res of [doctor([file, '--json']), doctor(['-', '--json'], readFileSync(file, 'utf8'))]) {
      assert.equal(res.status, 0, res.stderr);
      const out = JSON.parse(res.stdout);
      assert.equal(out.kind, 'host-oom', name);
      assert.equal(out.diagnosis.cause, 'host-memory', name);
    }
  }
});

test('text without an OOM: kind not-oom, exit 0', () => {
  const res = doctor([join(FIXTURES, 'lookalike-int-max.log'), '--json']);
  assert.equal(res.status, 0);
  const out = JSON.parse(res.stdout);
  assert.equal(out.kind, 'not-oom');
  assert.deepEqual(out.fixes, []);
});

test('a missing file: exit 2 and one line', () => {
  const res = doctor(['nope.log', '--json']);
  assert.equal(res.status, 2);
  assert.equal(res.stdout, '');
  assert.equal(res.stderr, 'refit: nope.log: no such file\n');
});

test('a folder instead of a file: exit 2 and one line', () => {
  const res = doctor([FIXTURES]);
  assert.equal(res.status, 2);
  assert.equal(res.stderr, `refit: ${FIXTURES}: is a folder, not a log file\n`);
});

test('a bad config: exit 2 and one line naming the key', () => {
  const cfg = join(tmp, 'bad.yaml');
  writeFileSync(cfg, 'train:\n  batch_sise: 32\n');
  const res = doctor([join(FIXTURES, 'deepke-issue-1.4.log'), '-c', cfg]);
  assert.equal(res.status, 2);
  assert.equal(res.stderr.trim().split('\n').length, 1);
  assert.match(res.stderr, /batch_sise/);
});

test('-c: each fix is a config change with a predicted peak under the card, effective batch kept, fastest first', () => {
  const cfg = join(tmp, 'deepke.yaml');
  writeFileSync(
    cfg,
    'model:\n  preset: bert-base\ntrain:\n  batch_size: 32\nmemory:\n  max_seq_len: 512\n  precision: fp32\n  attention: eager\n',
  );
  const res = doctor([
    join(FIXTURES, 'deepke-issue-1.4.log'),
    '-c',
    cfg,
    '--engine',
    'hf',
    '--gpu',
    'RTX 3060',
    '--json',
  ]);
  assert.equal(res.status, 0, res.stderr);
  const { fixes } = JSON.parse(res.stdout);
  assert.ok(fixes.length >= 2);
  let last = Infinity;
  for (const fix of fixes) {
    assert.equal(fix.fits, true);
    assert.ok(fix.predicted_peak_bytes < 11.75 * GIB, fix.title);
    assert.ok(fix.predicted_examples_per_s <= last, 'sorted by predicted speed');
    last = fix.predicted_examples_per_s;
    const micro = fix.config['memory.micro_batch_size'] ?? 32;
    const accum = fix.config['memory.grad_accumulation'] ?? 1;
    assert.equal(micro * accum, 32, fix.title);
  }
});

test('-c with --lengths-from: a DeepKE-style max-padding config gets dynamic padding in its fixes', () => {
  const cfg = join(tmp, 'pad-max.yaml');
  writeFileSync(
    cfg,
    'model:\n  preset: bert-base\ntrain:\n  batch_size: 32\nmemory:\n  max_seq_len: 512\n  padding: max\n  precision: fp32\n  attention: eager\n',
  );
  const lengths = join(tmp, 'lengths.txt');
  writeFileSync(lengths, [...Array(400).keys()].map((i) => 20 + (i % 90)).join('\n') + '\n300\n');
  const res = doctor([
    join(FIXTURES, 'deepke-issue-1.4.log'),
    '-c',
    cfg,
    '--gpu',
    'RTX 3060',
    '--lengths-from',
    lengths,
    '--json',
  ]);
  assert.equal(res.status, 0, res.stderr);
  const { fixes } = JSON.parse(res.stdout);
  assert.equal(fixes[0].config['memory.padding'], 'dynamic');
  assert.ok(fixes.every((f: { fits: boolean }) => f.fits));
});
