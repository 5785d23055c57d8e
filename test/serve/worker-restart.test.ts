// refit serve when its model worker dies or hangs: the real `refit serve` process and the real torch worker, killed
// with SIGKILL under 16 concurrent clients, made to die on every start, or stopped (SIGSTOP) mid-request. The server
// notices at once, answers 503 with Retry-After meanwhile, says so in /v1/health, restarts the worker with bounded
// back-off, and ends `down` with one log line when the worker cannot be started.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from '../../src/log.ts';
import { startServer } from '../../src/serve/index.ts';
import { findPython } from '../../src/worker/index.ts';
import { CLI, NO_CLI, cachedTinyRun } from '../web/tiny-run.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A private copy of the shared tiny run (its refit.log is this test's own). */
function runCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'refit-restart-'));
  dirs.push(dir);
  cpSync(cachedTinyRun(), join(dir, 'run'), { recursive: true });
  rmSync(join(dir, 'run', 'refit.log'), { force: true });
  return join(dir, 'run');
}

/** Starts `refit serve --port 0` and resolves with its URL once it listens. */
async function serveCli(
  run_dir: string,
  args: string[] = [],
  env: Record<string, string | undefined> = process.env,
): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--run', run_dir, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /http:\/\/[\d.]+:\d+/.exec(out);
      if (m) resolve(m[0]);
    });
    child.on('exit', (code) => reject(new Error(`refit serve exited ${code}: ${err}`)));
  });
  return { url, child, stderr: () => err };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise((resolve) => {
    child.on('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** The worker: the server's child process that runs refit_worker (found with ps, as an operator would). */
function workerPid(server_pid: number): number {
  const out = execFileSync('ps', ['--ppid', String(server_pid), '-o', 'pid=,args='], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes('refit_worker'));
  assert.ok(line, `no worker among the children of ${server_pid}: ${out}`);
  return Number(line.trim().split(/\s+/)[0]);
}

const health = async (url: string) => {
  const r = await fetch(`${url}/v1/health`);
  return { code: r.status, ...(await r.json()) };
};
const predict = (url: string, i: number) =>
  fetch(`${url}/v1/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      text: `Company ${i} was founded by Ann Lee.`,
      head: `Company ${i}`,
      tail: 'Ann Lee',
    }),
  });
const sleep = (ms: number) => new Promise((d) => setTimeout(d, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('refit serve: a worker killed with SIGKILL under load', { skip: NO_CLI }, () => {
  test('503 + Retry-After during the gap, health degraded with reason and restart count, then every request succeeds', async () => {
    const run_dir = runCopy();
    const { url, child } = await serveCli(run_dir);
    try {
      assert.equal((await predict(url, 0)).status, 200);
      const pid = workerPid(child.pid as number);
      assert.equal((await health(url)).worker.pid, pid);
      // The first start was measured: Retry-After counts on a start as long as it.
      const firstStart = (await health(url)).worker.last_start_s as number;
      assert.ok(firstStart > 0, `last_start_s ${firstStart}`);
      const statuses: number[] = [];
      const refusals: Array<string | null> = [];
      let killed = false;
      let stopAt = Infinity;
      // 16 clients, each sending requests back to back until 1 s after the worker is back
      const clients = Array.from({ length: 16 }, async (_, i) => {
        while (Date.now() < stopAt) {
          const r = await predict(url, i);
          await r.json();
          if (killed) statuses.push(r.status);
          if (r.status === 503) {
            refusals.push(r.headers.get('retry-after'));
            await sleep(100);
          }
        }
      });
      await sleep(300);
      process.kill(pid, 'SIGKILL');
      killed = true;
      const degraded = await until(
        'health degraded',
        async () => {
          const h = await health(url);
          return h.status === 'degraded' ? h : undefined;
        },
        5_000,
      );
      assert.match(
        degraded.reason,
        /model worker lost \(worker died: .*signal SIGKILL.*\); restart 1 of at most 5/,
      );
      assert.equal(degraded.model_loaded, false, 'no model is loaded while its worker is dead');
      assert.equal(degraded.worker.state, 'restarting');
      const back = await until('health ok again', async () => {
        const h = await health(url);
        return h.status === 'ok' ? h : undefined;
      });
      assert.equal(back.worker.restarts, 1);
      assert.notEqual(back.worker.pid, pid);
      stopAt = Date.now() + 1_000;
      await Promise.all(clients);
      assert.ok(refusals.length > 0, 'some requests were refused while the worker restarted');
      assert.ok(
        refusals.every((s) => s !== null && Number(s) >= 1),
        `Retry-After on every 503: ${refusals.join(',')}`,
      );
      // never more than the back-off (0.5 s) and the measured start, rounded up (health shows the start rounded to
      // 0.1 s: the server's own figure may be up to 0.05 s longer)
      assert.ok(
        refusals.every((s) => Number(s) <= Math.ceil(0.5 + firstStart + 0.05)),
        `Retry-After ${refusals.join(',')} within the measured start of ${firstStart} s`,
      );
      assert.ok(back.worker.last_start_s > 0, 'the restart was measured too');
      assert.deepEqual([...new Set(statuses)].sort(), [200, 503], 'nothing but 200 and 503 (no 500)');
      // once back, every request succeeds
      const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => predict(url, i)));
      assert.deepEqual(
        rs.map((r) => r.status),
        Array(16).fill(200),
      );
      const log = readFileSync(join(run_dir, 'refit.log'), 'utf8');
      assert.match(log, /serve: model worker is back \(pid \d+\) after restart 1, its start took \d+\.\d s/);
    } finally {
      await stop(child);
    }
  });
});

describe('refit serve: a worker that dies on every start', { skip: NO_CLI }, () => {
  test('bounded restarts with back-off, then `down` (health 503) with one log line; no restart loop', async () => {
    const run_dir = runCopy();
    const { python } = await findPython({ env: process.env });
    // The first worker is real; every later start exits at once (as with broken weights, a missing library, a segfault).
    const wrapper = join(run_dir, '..', 'python-once.sh');
    writeFileSync(
      wrapper,
      `#!/bin/sh\ncase "$*" in *refit_worker*) if [ -e "${wrapper}.started" ]; then echo "worker cannot start" >&2; exit 3; fi; ` +
        `touch "${wrapper}.started";; esac\nexec "${python}" "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    const { url, child, stderr } = await serveCli(run_dir, ['--max-restarts', '2'], {
      ...process.env,
      REFIT_PYTHON: wrapper,
    });
    try {
      assert.equal((await predict(url, 0)).status, 200);
      process.kill(workerPid(child.pid as number), 'SIGKILL');
      const down = await until('health down', async () => {
        const h = await health(url);
        return h.status === 'down' ? h : undefined;
      });
      assert.equal(down.code, 503);
      assert.equal(down.worker.state, 'down');
      assert.equal(down.worker.restarts, 2);
      assert.match(
        down.reason,
        /^model worker lost 3 times in a row \(last: worker failed to start: worker died: exit code 3.*worker cannot start\); not restarted again/,
      );
      const r = await predict(url, 1);
      assert.equal(r.status, 503);
      assert.ok(Number(r.headers.get('retry-after')) > 0);
      assert.match((await r.json()).error, /^model unavailable \(down\): /);
      const starts = () =>
        (readFileSync(join(run_dir, 'refit.log'), 'utf8').match(/starting worker: /g) ?? []).length;
      const n = starts();
      assert.equal(n, 3, 'the first worker and 2 restarts');
      await sleep(2_000);
      assert.equal(starts(), n, 'no more starts once down');
      const log = readFileSync(join(run_dir, 'refit.log'), 'utf8');
      assert.equal(log.match(/serve: DOWN: /g)?.length, 1);
      assert.equal(stderr().match(/refit serve: DOWN: /g)?.length, 1, stderr());
    } finally {
      await stop(child);
    }
  });
});

describe('refit serve: a worker that cannot start at all', { skip: NO_CLI }, () => {
  test('the server still listens and reports `down` after its restarts, instead of exiting into a restart loop', async () => {
    const run_dir = runCopy();
    const { python } = await findPython({ env: process.env });
    const wrapper = join(run_dir, '..', 'python-never.sh');
    writeFileSync(
      wrapper,
      `#!/bin/sh\ncase "$*" in *refit_worker*) echo "worker cannot start" >&2; exit 3;; esac\nexec "${python}" "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    const { url, child, stderr } = await serveCli(run_dir, ['--max-restarts', '1'], {
      ...process.env,
      REFIT_PYTHON: wrapper,
    });
    try {
      const down = await until('health down', async () => {
        const h = await health(url);
        return h.status === 'down' ? h : undefined;
      });
      assert.equal(down.model_loaded, false);
      assert.equal(down.worker.restarts, 1);
      assert.match(
        down.reason,
        /^model worker lost 2 times in a row \(last: worker failed to start: worker died: exit code 3/,
      );
      assert.equal(stderr().match(/refit serve: DOWN: /g)?.length, 1, stderr());
      const r = await predict(url, 0);
      assert.equal(r.status, 503);
    } finally {
      await stop(child);
    }
    assert.equal(child.exitCode, 0);
  });
});

describe('refit serve: a worker that hangs (SIGSTOP) mid-request', { skip: NO_CLI }, () => {
  test('the call past the worker timeout kills it; 503, then a restarted worker answers', async () => {
    const log = new RunLog();
    const server = await startServer({
      run_dir: cachedTinyRun(),
      host: '127.0.0.1',
      port: 0,
      log,
      env: process.env,
      web_dir: null,
      worker_timeout_ms: 1_500,
      heartbeat_ms: 60_000,
      restart: { base_ms: 100 },
    });
    try {
      assert.equal((await predict(server.url, 0)).status, 200);
      const pid = (await health(server.url)).worker.pid as number;
      process.kill(pid, 'SIGSTOP');
      const r = await predict(server.url, 1);
      assert.equal(r.status, 503);
      assert.ok(r.headers.get('retry-after'));
      assert.match(
        log.lastLines(50).join('\n'),
        new RegExp(`model worker \\(pid ${pid}\\) did not answer within 1500 ms; killing it`),
      );
      await until('health ok again', async () => {
        const h = await health(server.url);
        return h.status === 'ok' && h.model_loaded ? h : undefined;
      });
      assert.equal((await predict(server.url, 2)).status, 200);
    } finally {
      await server.close();
    }
  });
});

describe('refit serve: a worker that hangs (SIGSTOP) while idle', { skip: NO_CLI }, () => {
  test('the heartbeat notices without any request: degraded, killed, restarted, then predictions succeed', async () => {
    const log = new RunLog();
    const server = await startServer({
      run_dir: cachedTinyRun(),
      host: '127.0.0.1',
      port: 0,
      log,
      env: process.env,
      web_dir: null,
      heartbeat_ms: 2_000,
      restart: { base_ms: 100 },
    });
    try {
      const pid = (await health(server.url)).worker.pid as number;
      process.kill(pid, 'SIGSTOP');
      const degraded = await until(
        'health degraded',
        async () => {
          const h = await health(server.url);
          return h.status === 'degraded' ? h : undefined;
        },
        10_000,
      );
      assert.match(degraded.reason, /request-timeout \(no answer within 2000 ms\)/);
      await until('health ok again', async () => {
        const h = await health(server.url);
        return h.status === 'ok' && h.model_loaded ? h : undefined;
      });
      assert.equal((await predict(server.url, 1)).status, 200);
    } finally {
      await server.close();
    }
  });
});
