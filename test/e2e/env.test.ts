// `refit env` on this machine: the built binary and the real worker. The block names the worker's Python, torch and
// the BLAS torch really loaded (as the worker's own probe finds it in its memory map), and --json carries the keys
// the issue lists. With LD_LIBRARY_PATH at Debian's reference BLAS the same command says so and how to fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPython, MAX_DEFAULT_THREADS } from '../../src/worker/index.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'refit-e2e-env-'));
const REFERENCE_BLAS_DIR = '/usr/lib/x86_64-linux-gnu/blas';

const env: Record<string, string | undefined> = { ...process.env, REFIT_LOG: join(dir, 'cli.log') };
const python = await findPython({ env }).catch(() => undefined);
const skip = python ? false : 'no Python with torch';

function refit(
  args: string[],
  extra: Record<string, string> = {},
): Promise<{ status: number; stdout: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin/refit.mjs'), ...args],
      { env: { ...env, ...extra }, encoding: 'utf8', timeout: 120_000 },
      (err, stdout) => done({ status: err ? Number(err.code ?? 1) : 0, stdout }),
    );
  });
}

/** The worker's probe run directly: the BLAS name torch loads under `extra`. */
function probeBlas(extra: Record<string, string> = {}): string {
  return execFileSync(
    python!.python,
    ['-c', 'from refit_worker.device import blas_library; print(blas_library()["name"])'],
    { env: { ...env, ...extra, PYTHONPATH: join(ROOT, 'worker/python') }, encoding: 'utf8' },
  ).trim();
}

test(
  'refit env --json: python, torch.version, torch.blas, torch.threads, cuda, onnxruntime',
  { skip },
  async () => {
    const r = await refit(['env', '--json']);
    assert.equal(r.status, 0);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j), ['python', 'torch', 'cuda', 'onnxruntime']);
    assert.equal(j.python.path, python!.python);
    assert.equal(j.torch.version, python!.torch_version);
    assert.equal(j.torch.blas.name, probeBlas());
    assert.equal(typeof j.torch.blas.reference, 'boolean');
    // The default rule, read once for both engines (its cases are in test/worker/threads.test.ts).
    assert.ok(j.torch.threads >= 1 && j.torch.threads <= MAX_DEFAULT_THREADS, String(j.torch.threads));
    assert.equal(j.onnxruntime.threads, j.torch.threads);
    assert.equal(typeof j.cuda.available, 'boolean');
    assert.equal(j.cuda.devices.length, j.cuda.device_count);
    assert.match(j.onnxruntime.version, /^\d+\.\d+\.\d+/);
    assert.ok(j.onnxruntime.providers.includes('cpu'));
  },
);

test('refit env: one block, one line per fact, the BLAS as the worker probes it', { skip }, async () => {
  const r = await refit(['env']);
  assert.equal(r.status, 0);
  const lines = r.stdout.trimEnd().split('\n');
  assert.deepEqual(
    lines.slice(0, 6).map((l) => l.split(/\s+/)[0]),
    ['python', 'torch', 'blas', 'threads', 'cuda', 'onnxruntime'],
  );
  assert.ok(lines[2].includes(probeBlas()), lines[2]);
});

test(
  "refit env under Debian's reference BLAS: reference, and the line that says how to fix it",
  { skip: skip || (existsSync(REFERENCE_BLAS_DIR) ? false : `no ${REFERENCE_BLAS_DIR}`) },
  async () => {
    const extra = { LD_LIBRARY_PATH: REFERENCE_BLAS_DIR };
    const j = JSON.parse((await refit(['env', '--json'], extra)).stdout);
    assert.deepEqual([j.torch.blas.name, j.torch.blas.reference], ['reference BLAS', true]);
    const r = await refit(['env'], extra);
    assert.equal(r.status, 0);
    assert.equal(
      r.stdout.trimEnd().split('\n').at(-1),
      'slow: torch runs on the reference BLAS (about 10x slower matrix products); install OpenBLAS: ' +
        'apt-get install libopenblas0-pthread',
    );
  },
);
