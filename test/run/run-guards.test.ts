// The pure parts of issue 10's training items: which keys --resume may change, the superseded-steps rule of
// append-only events, the run-folder lock, the safetensors check, sizes against the model, and errno → one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_KEYS } from '../../src/config/index.ts';
import { RESUME_SAFE, checkResumeChanges } from '../../src/run/resume-config.ts';
import { refusedReason } from '../../src/run/resume-config.ts';
import { currentEvents, currentEventsAfter, summarizeRun, type EventLine } from '../../src/report/index.ts';
import { lockRunFolder, LOCK_FILE } from '../../src/run/lock.ts';
import { checkSafetensors } from '../../src/session/index.ts';
import { checkRunSizes } from '../../src/run/stages/prepare-inputs.ts';
import { EnvironmentError, fsError, pythonOsError } from '../../src/errors.ts';
import { validateDims, PRESETS } from '../../src/memory/index.ts';
import { RunLog } from '../../src/log.ts';
import { tinyConfig, tinyData } from './helpers.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'refit-guards-'));

test('every config key is either safe to change on --resume (with a reason) or refused with a reason', () => {
  for (const key of CONFIG_KEYS) {
    const why = RESUME_SAFE[key] ?? refusedReason(key);
    assert.ok(typeof why === 'string' && why.length > 10, key);
  }
  for (const key of Object.keys(RESUME_SAFE)) assert.ok(CONFIG_KEYS.includes(key), `${key} is a config key`);
});

test('--resume refuses trajectory changes with one line (key, stored value, --force) and allows more epochs', () => {
  const data = tinyData({ train: 32, valid: 8, test: 8 });
  const stored = tinyConfig(data);
  for (const [o, key, from] of [
    ['train.batch_size=8', 'train.batch_size', '16'],
    ['train.seed=99', 'train.seed', '42'],
    ['train.epochs=1', 'train.epochs', '2'],
    ['memory.max_seq_len=32', 'memory.max_seq_len', '64'],
    ['device=auto', 'device', 'cpu'],
    ['train.warmup_ratio=0.3', 'train.warmup_ratio', '0.1'],
  ] as const) {
    assert.throws(
      () => checkResumeChanges(stored, tinyConfig(data, [o]), '/runs/x'),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_RESUME_CHANGED');
        assert.ok(!e.message.includes('\n'));
        assert.match(
          e.message,
          new RegExp(
            `cannot change ${key.replace('.', '\\.')}: the run in /runs/x was started with ${from}, `,
          ),
        );
        assert.match(e.message, /--force/);
        return true;
      },
      o,
    );
  }
  const ok = checkResumeChanges(
    stored,
    tinyConfig(data, ['train.epochs=5', 'predict.top_k=7', 'train.early_stopping_patience=4']),
    '/runs/x',
  );
  assert.deepEqual(ok.map((c) => c.key).sort(), [
    'predict.top_k',
    'train.early_stopping_patience',
    'train.epochs',
  ]);
  assert.deepEqual(checkResumeChanges(stored, tinyConfig(data), '/runs/x'), []);
});

const step = (n: number): EventLine => ({ event: 'step', step: n, loss: 1 / n });
test('a resume (or restart) supersedes the steps after from_step written before it; the file stays as is', () => {
  const ev: EventLine[] = [
    { event: 'run_start', total_steps: 8 },
    step(1),
    step(2),
    step(3),
    { event: 'checkpoint', step: 2, kind: 'last' },
    step(4),
    step(5),
    { event: 'run_end', status: 'interrupted' },
    { event: 'resume', from_step: 3 },
    { event: 'run_start', total_steps: 8 },
    step(4),
    step(5),
    step(6),
    { event: 'restart', step: 7, resume_step: 5 },
    step(6),
    step(7),
    step(8),
    { event: 'run_end', status: 'ok' },
  ];
  const steps = currentEvents(ev)
    .filter((e) => e.event === 'step')
    .map((e) => e.step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8]);
  const m = summarizeRun({ name: 'r', events: ev, plan: null, metrics: null, config_yaml: '' });
  assert.deepEqual(m.steps.step, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(m.status, 'finished');
  // /v1/run?after=N: what is still current from line N on
  assert.deepEqual(
    currentEventsAfter(ev, 9)
      .filter((e) => e.event === 'step')
      .map((e) => e.step),
    [4, 5, 6, 7, 8],
  );
  const interrupted = summarizeRun({
    name: 'r',
    events: ev.slice(0, 8),
    plan: null,
    metrics: null,
    config_yaml: '',
  });
  assert.equal(interrupted.status, 'interrupted');
  assert.equal(
    summarizeRun({ name: 'r', events: ev.slice(0, 11), plan: null, metrics: null, config_yaml: '' }).status,
    'running',
  );
});

test('the run-folder lock: atomic, names its holder, refuses a second holder, takes over a stale one', () => {
  const d = dir();
  const a = lockRunFolder(d);
  const info = JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8'));
  assert.equal(info.pid, process.pid);
  assert.equal(info.host, hostname());
  // The same process counts as live: a second lock is refused (exit 1, one line naming the pid).
  assert.throws(
    () => lockRunFolder(d),
    (e: Error & { code?: string; exitCode?: number }) =>
      e.code === 'E_RUN_LOCKED' && e.exitCode === 1 && e.message.includes(`pid ${process.pid}`),
  );
  a.release();
  assert.ok(!existsSync(join(d, LOCK_FILE)));
  const dead = Number(
    execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString(),
  );
  writeFileSync(
    join(d, LOCK_FILE),
    JSON.stringify({ pid: dead, host: hostname(), started: 'then', command: 'refit train' }),
  );
  const b = lockRunFolder(d);
  assert.equal(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8')).pid, process.pid);
  b.release();
  // An unreadable lock is stale once it is old (a torn write of a crashed process), not while it is fresh.
  writeFileSync(join(d, LOCK_FILE), '');
  assert.throws(() => lockRunFolder(d), /already writing/);
  utimesSync(join(d, LOCK_FILE), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  lockRunFolder(d).release();
  // Another host's lock cannot be checked from here: refused, with how to clear it.
  writeFileSync(
    join(d, LOCK_FILE),
    JSON.stringify({ pid: 1, host: 'elsewhere', started: 'then', command: 'refit train' }),
  );
  assert.throws(() => lockRunFolder(d), /on elsewhere.*delete .*\.refit\.lock/);
});

function safetensors(header: Record<string, unknown>, data: Buffer): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

test('a malformed safetensors file is one line naming it: truncated, header length, JSON, dtype, shape, offsets', () => {
  const d = dir();
  const good = safetensors(
    { a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, __metadata__: { format: 'pt' } },
    Buffer.alloc(16),
  );
  const f = join(d, 'model.safetensors');
  writeFileSync(f, good);
  checkSafetensors(f);
  const cases: Array<[Buffer, RegExp]> = [
    [
      good.subarray(0, good.length - 4),
      /ends at byte 16 of a 12-byte data section \(the file is truncated\)/,
    ],
    [good.subarray(0, 5), /5 bytes, shorter than the 8-byte header length/],
    [
      (() => {
        const c = Buffer.from(good);
        c.writeBigUInt64LE(10n ** 12n);
        return c;
      })(),
      /header length 1000000000000 is past the end/,
    ],
    [
      (() => {
        const c = Buffer.from(good);
        c.write('#', 8);
        return c;
      })(),
      /header is not valid JSON/,
    ],
    [
      safetensors({ a: { dtype: 'F33', shape: [2], data_offsets: [0, 8] } }, Buffer.alloc(8)),
      /unknown dtype "F33"/,
    ],
    [
      safetensors({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, Buffer.alloc(8)),
      /shape \[3\] × F32 is 12 bytes but data_offsets span 8/,
    ],
    [
      safetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, Buffer.alloc(8)),
      /data_offsets \[8,0\] are not \[start, end\]/,
    ],
    [safetensors([] as never, Buffer.alloc(0)), /header is not a JSON object/],
  ];
  for (const [bytes, re] of cases) {
    writeFileSync(f, bytes);
    assert.throws(
      () => checkSafetensors(f),
      (e: Error & { code?: string; exitCode?: number }) => {
        assert.equal(e.code, 'E_MODEL_FILES');
        assert.equal(e.exitCode, 2);
        assert.ok(e.message.startsWith(`${f}: not a valid safetensors file: `), e.message);
        assert.match(e.message, re);
        return true;
      },
    );
  }
});

test('sizes: shapes beyond any BERT, a window past the positions, a batch past the data', () => {
  assert.throws(
    () => validateDims({ ...PRESETS['bert-base'], num_hidden_layers: 1_000_000 }, 'm/config.json'),
    /m\/config\.json: num_hidden_layers 1000000 is larger than any model refit can train \(at most 1024\)/,
  );
  assert.throws(
    () => validateDims({ ...PRESETS['bert-base'], hidden_size: 2 ** 20, num_attention_heads: 16 }, 'x'),
    /hidden_size 1048576/,
  );
  const data = tinyData({ train: 20, valid: 4, test: 4 });
  const log = new RunLog();
  assert.throws(
    () => checkRunSizes(tinyConfig(data, ['memory.max_seq_len=2048']), PRESETS['bert-tiny'], 20, log),
    /memory\.max_seq_len 2048 is above the model's 512 positions/,
  );
  assert.throws(
    () => checkRunSizes(tinyConfig(data, ['train.batch_size=1000000000000']), PRESETS['bert-tiny'], 20, log),
    /train\.batch_size 1000000000000 is larger than the 20 training examples; set train\.batch_size=20 or less/,
  );
  // The default batch (32) on 20 examples is lowered with a warning, not refused.
  const c = tinyConfig(data, ['train.batch_size=32']);
  assert.equal(checkRunSizes(c, PRESETS['bert-tiny'], 20, log).train.batch_size, 20);
  assert.match(
    log.lastLines(1)[0],
    /default train\.batch_size 32 is larger than the 20 training examples; using 20/,
  );
});

test('file-system errors become one line naming the path: exit 1 for the machine, 2 for a path of the wrong kind', () => {
  const mk = (code: string) =>
    Object.assign(new Error(`${code}: x`), { code, syscall: 'open', path: '/p/q' });
  for (const code of ['ENOSPC', 'EROFS', 'EACCES', 'EDQUOT']) {
    const e = fsError(mk(code));
    assert.ok(e instanceof EnvironmentError, code);
    assert.equal(e!.exitCode, 1);
    assert.match(e!.message, new RegExp(`^/p/q: .+ \\(${code}\\)$`));
  }
  for (const code of ['ENOTDIR', 'EISDIR']) assert.equal(fsError(mk(code))!.exitCode, 2);
  assert.equal(fsError(new Error('plain')), undefined);
  const py = pythonOsError(
    "OSError: [Errno 28] No space left on device: '/runs/x/checkpoints/step-4/model.safetensors.tmp-9'",
  );
  assert.equal(
    py?.message,
    '/runs/x/checkpoints/step-4/model.safetensors.tmp-9: no space left on the device (ENOSPC)',
  );
  assert.equal(py?.exitCode, 1);
});
