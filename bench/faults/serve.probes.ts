// Probes of `refit serve` under faults and hostile clients (issue 10, items 1, 2, 3 and 5): the real server process
// and the real torch worker, killed, hung, unable to start, fed stalled bodies, slow connections and 1 MB fields.
import { execFileSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Probe, ProbeContext } from './types.ts';

const sleep = (ms: number) => new Promise((d) => setTimeout(d, ms));

/** A private copy of the shared tiny run: the server writes refit.log into it. */
export async function runCopy(ctx: ProbeContext): Promise<string> {
  const run = join(ctx.tmp, 'run');
  cpSync(await ctx.tinyRun(), run, { recursive: true });
  rmSync(join(run, 'refit.log'), { force: true }); // training's lines are not the server's
  return run;
}

interface Served {
  url: string;
  port: number;
  child: ChildProcess;
  stderr: () => string;
  log: () => string;
  stop: () => Promise<void>;
}

/**
 * Starts `refit serve --run RUN --port 0 --engine torch ...args` and waits until it listens. These probes are about
 * the Python worker's process (kill, hang, restart): the ONNX engine, the default when the run has model.onnx, runs
 * in the server's own process and has no worker to lose.
 */
export async function serve(
  ctx: ProbeContext,
  run: string,
  args: string[] = [],
  env: Record<string, string | undefined> = {},
): Promise<Served> {
  const child = ctx.spawnRefit(['serve', '--run', run, '--port', '0', '--engine', 'torch', ...args], { env });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`refit serve did not start in 120 s: ${err}`)), 120_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /http:\/\/[\d.]+:\d+/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`refit serve exited ${code}: ${err.trim()}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    child,
    stderr: () => err,
    log: () => (existsSync(join(run, 'refit.log')) ? readFileSync(join(run, 'refit.log'), 'utf8') : ''),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The server's child process running refit_worker, found with ps as an operator would. */
export function workerPid(server: ChildProcess): number {
  const out = execFileSync('ps', ['--ppid', String(server.pid), '-o', 'pid=,args='], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes('refit_worker'));
  if (!line) throw new Error(`no refit_worker child of the server: ${out.trim()}`);
  return Number(line.trim().split(/\s+/)[0]);
}

const health = async (url: string) => {
  const r = await fetch(`${url}/v1/health`);
  return { code: r.status, ...(await r.json()) } as {
    code: number;
    status: string;
    reason: string | null;
    worker: { state: string; pid: number | null; restarts: number };
  };
};
const predict = (url: string, body: unknown) =>
  fetch(`${url}/v1/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const item = (i: number) => ({
  text: `Company ${i} was founded by Ann Lee in Lisbon.`,
  head: `Company ${i}`,
  tail: 'Ann Lee',
});

async function until<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(100);
  }
  return undefined;
}

/** A raw connection that writes `data` and reports what came back and when it was closed. */
function raw(port: number, data: string): { sock: Socket; done: Promise<{ got: string; ms: number }> } {
  const t0 = Date.now();
  const sock = connect(port, '127.0.0.1');
  let got = '';
  sock.on('data', (d) => (got += d));
  sock.on('error', () => undefined);
  const done = new Promise<{ got: string; ms: number }>((resolve) =>
    sock.on('close', () => resolve({ got, ms: Date.now() - t0 })),
  );
  if (data) sock.write(data);
  return { sock, done };
}
const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, sleep(ms).then(() => undefined)]);

/** A REFIT_PYTHON that runs the real interpreter for the torch check and the first worker (none with `never`); later workers exit at once. */
function pythonOnce(ctx: ProbeContext, never = false): string {
  const python =
    ['/usr/bin/python3', 'python3'].find((p) => {
      try {
        execFileSync(p, ['-c', 'import torch'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    }) ?? 'python3';
  const wrapper = join(ctx.tmp, never ? 'python-never.sh' : 'python-once.sh');
  if (never) writeFileSync(`${wrapper}.started`, '');
  writeFileSync(
    wrapper,
    `#!/bin/sh\ncase "$*" in *refit_worker*) if [ -e "${wrapper}.started" ]; then echo "cannot start: simulated" >&2; exit 3; fi; ` +
      `touch "${wrapper}.started";; esac\nexec "${process.env.REFIT_PYTHON ?? python}" "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  return wrapper;
}

/** Kills the worker, then waits for `down`; returns what was seen. */
/** Kills the worker until the server is down: after `restarts` restarts (default: all `max_restarts` it may make). */
async function killUntilDown(
  s: Served,
  max_restarts: number,
  restarts = max_restarts,
): Promise<{ ok: boolean; happened: string }> {
  process.kill(workerPid(s.child), 'SIGKILL');
  const down = await until(async () => {
    const h = await health(s.url);
    return h.status === 'down' ? h : undefined;
  }, 90_000);
  if (!down) return { ok: false, happened: `never down; health ${JSON.stringify(await health(s.url))}` };
  const starts = () => (s.log().match(/starting worker: /g) ?? []).length;
  const n = starts();
  await sleep(3_000);
  const r = await predict(s.url, item(1));
  const downLines = (s.log().match(/serve: DOWN: /g) ?? []).length;
  const ok =
    down.code === 503 &&
    down.worker.restarts === restarts &&
    starts() === n &&
    n <= max_restarts + 1 &&
    downLines === 1 &&
    r.status === 503 &&
    Number(r.headers.get('retry-after')) > 0;
  return {
    ok,
    happened:
      `health ${down.code} ${down.status} after ${down.worker.restarts} restarts (${n} worker starts in all, ${starts() - n} in the next 3 s); ` +
      `${downLines} DOWN log line: "${(down.reason ?? '').slice(0, 160)}"; predict → ${r.status}, Retry-After ${r.headers.get('retry-after')}`,
  };
}

export const PROBES: Probe[] = [
  {
    item: '10.1 dead worker',
    did: '`kill -9` the model worker (found with `ps --ppid`) while 16 clients send requests back to back',
    expected:
      '503 with Retry-After during the gap (never 500), /v1/health degraded with reason and restart count, worker restarted, then 16/16 requests succeed',
    async run(ctx) {
      const s = await serve(ctx, await runCopy(ctx));
      try {
        if ((await predict(s.url, item(0))).status !== 200)
          return { ok: false, happened: 'first prediction failed' };
        const pid = workerPid(s.child);
        const seen: Record<string, number> = {};
        let noRetryAfter = 0;
        let stopAt = Infinity;
        const clients = Array.from({ length: 16 }, async (_, i) => {
          while (Date.now() < stopAt) {
            const r = await predict(s.url, item(i)).catch(() => undefined);
            const code = r ? String(r.status) : 'reset';
            seen[code] = (seen[code] ?? 0) + 1;
            await r?.arrayBuffer();
            if (r?.status === 503) {
              if (!r.headers.get('retry-after')) noRetryAfter++;
              await sleep(100);
            }
          }
        });
        await sleep(500);
        const t0 = Date.now();
        process.kill(pid, 'SIGKILL');
        const degraded = await until(async () => {
          const h = await health(s.url);
          return h.status === 'degraded' ? h : undefined;
        }, 5_000);
        const back = await until(async () => {
          const h = await health(s.url);
          return h.status === 'ok' ? h : undefined;
        }, 90_000);
        const gap = Date.now() - t0;
        stopAt = Date.now() + 2_000;
        await Promise.all(clients);
        const after = await Promise.all(
          Array.from({ length: 16 }, (_, i) => predict(s.url, item(i)).then((r) => r.status)),
        );
        const good = after.filter((c) => c === 200).length;
        const ok =
          !!degraded &&
          !!back &&
          back.worker.restarts === 1 &&
          back.worker.pid !== pid &&
          (seen['503'] ?? 0) > 0 &&
          noRetryAfter === 0 &&
          Object.keys(seen).every((c) => c === '200' || c === '503') &&
          good === 16;
        return {
          ok,
          happened:
            `health ${degraded ? `degraded ("${(degraded.reason ?? '').slice(0, 120)}")` : 'never degraded'}, ` +
            `${back ? `ok again after ${(gap / 1000).toFixed(1)} s, restarts ${back.worker.restarts}` : 'never ok again'}; answers while loaded: ` +
            `${JSON.stringify(seen)}, ${noRetryAfter} 503s without Retry-After; afterwards ${good}/16 succeeded`,
        };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '10.1 dead worker',
    did: '`kill -9` the worker when every later start exits at once (REFIT_PYTHON wrapper exiting 3), `--max-restarts 3`',
    expected:
      '3 restarts with back-off, then /v1/health `down` (HTTP 503) with the reason, one DOWN log line, no further starts; predict 503 + Retry-After',
    async run(ctx) {
      const s = await serve(ctx, await runCopy(ctx), ['--max-restarts', '3'], {
        REFIT_PYTHON: pythonOnce(ctx),
      });
      try {
        if ((await predict(s.url, item(0))).status !== 200)
          return { ok: false, happened: 'first prediction failed' };
        return await killUntilDown(s, 3);
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '10.1 dead worker',
    did: '`refit serve --max-restarts 2` where no worker can start (REFIT_PYTHON wrapper: the torch check passes, every worker exits 3)',
    expected:
      'the server listens anyway; 2 restarts, then /v1/health `down` (HTTP 503) with the reason and one DOWN line; SIGTERM exits 0',
    async run(ctx) {
      const s = await serve(ctx, await runCopy(ctx), ['--max-restarts', '2'], {
        REFIT_PYTHON: pythonOnce(ctx, true),
      });
      let code: number | null = null;
      try {
        const down = await until(async () => {
          const h = await health(s.url);
          return h.status === 'down' ? h : undefined;
        }, 90_000);
        const r = await predict(s.url, item(0));
        await s.stop();
        code = s.child.exitCode;
        const lines = (s.stderr().match(/refit serve: DOWN: /g) ?? []).length;
        const ok =
          !!down &&
          down.code === 503 &&
          down.worker.restarts === 2 &&
          r.status === 503 &&
          lines === 1 &&
          code === 0;
        return {
          ok,
          happened:
            `${down ? `health ${down.code} down after ${down.worker.restarts} restarts: "${(down.reason ?? '').slice(0, 140)}"` : 'never down'}; ` +
            `predict → ${r.status}; ${lines} DOWN line on stderr; exit ${code}`,
        };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '10.1 dead worker',
    did: 'corrupt the model weights on disk, then `kill -9` the worker (every restart fails to load), `--max-restarts 2`',
    expected:
      '`down` at the first restart (the manifest refuses the changed folder before a worker starts) with one DOWN ' +
      'log line naming the file, no restart loop',
    async run(ctx) {
      const run = await runCopy(ctx);
      const s = await serve(ctx, run, ['--max-restarts', '2']);
      try {
        if ((await predict(s.url, item(0))).status !== 200)
          return { ok: false, happened: 'first prediction failed' };
        const weights = readdirSync(join(run, 'model')).filter((f) => /\.(safetensors|bin|pt)$/.test(f));
        for (const f of weights) writeFileSync(join(run, 'model', f), 'not weights');
        const r = await killUntilDown(s, 2, 1);
        return { ...r, ok: r.ok && /model\.safetensors/.test(r.happened) };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '10.1 dead worker',
    did: 'SIGSTOP the worker (a hang), then send a request at once, `--worker-timeout 2`',
    expected:
      'the request gets 503 + Retry-After after ~2 s, the hung worker is killed and restarted, the next request succeeds',
    async run(ctx) {
      const s = await serve(ctx, await runCopy(ctx), ['--worker-timeout', '2']);
      try {
        if ((await predict(s.url, item(0))).status !== 200)
          return { ok: false, happened: 'first prediction failed' };
        const pid = workerPid(s.child);
        process.kill(pid, 'SIGSTOP');
        const t0 = Date.now();
        const r = await predict(s.url, item(1));
        const ms = Date.now() - t0;
        const back = await until(async () => {
          const h = await health(s.url);
          return h.status === 'ok' && h.worker.pid !== pid ? h : undefined;
        }, 90_000);
        const next = back ? (await predict(s.url, item(2))).status : 0;
        const ok = r.status === 503 && !!r.headers.get('retry-after') && !!back && next === 200;
        return {
          ok,
          happened:
            `hung request → ${r.status} after ${(ms / 1000).toFixed(1)} s (Retry-After ${r.headers.get('retry-after')}); ` +
            `${back ? `restarted (restarts ${back.worker.restarts})` : 'not restarted'}; next request → ${next}`,
        };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '10.1 dead worker',
    did: 'SIGSTOP the worker while no request is sent (an idle hang)',
    expected:
      'within ~10 s the idle ping goes unanswered: /v1/health degraded, the worker killed and restarted, then predictions succeed',
    async run(ctx) {
      const s = await serve(ctx, await runCopy(ctx));
      try {
        const pid = workerPid(s.child);
        process.kill(pid, 'SIGSTOP');
        const t0 = Date.now();
        const degraded = await until(async () => {
          const h = await health(s.url);
          return h.status === 'degraded' ? h : undefined;
        }, 20_000);
        const seen = Date.now() - t0;
        const back = await until(async () => {
          const h = await health(s.url);
          return h.status === 'ok' && h.worker.pid !== pid ? h : undefined;
        }, 90_000);
        const next = back ? (await predict(s.url, item(2))).status : 0;
        const ok = !!degraded && !!back && next === 200;
        return {
          ok,
          happened:
            `${degraded ? `degraded after ${(seen / 1000).toFixed(1)} s ("${(degraded.reason ?? '').slice(0, 120)}")` : 'never degraded'}; ` +
            `${back ? `restarted (restarts ${back.worker.restarts})` : 'not restarted'}; next request → ${next}`,
        };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '10.2 stalled body',
    did: 'headers + half a body, then silence; and a body dripped one byte per 300 ms (default --body-timeout 10)',
    expected: 'both answered 408 and disconnected after about 10 s; the server answers others meanwhile',
    async run(ctx) {
      const s = await serve(ctx, await runCopy(ctx));
      try {
        const half = raw(
          s.port,
          'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{"text": "Ann met',
        );
        const drip = raw(
          s.port,
          'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n',
        );
        const timer = setInterval(() => {
          if (!drip.sock.destroyed) drip.sock.write(' ');
        }, 300);
        const meanwhile = (await fetch(`${s.url}/v1/health`)).status;
        const [a, b] = await Promise.all([within(half.done, 20_000), within(drip.done, 20_000)]);
        clearInterval(timer);
        half.sock.destroy();
        drip.sock.destroy();
        const ok =
          !!a &&
          !!b &&
          /^HTTP\/1\.1 408/.test(a.got) &&
          /^HTTP\/1\.1 408/.test(b.got) &&
          a.ms < 15_000 &&
          meanwhile === 200;
        return {
          ok,
          happened:
            `half body: ${a ? `${a.got.split('\r\n')[0] || 'no answer'} after ${(a.ms / 1000).toFixed(1)} s` : 'still open after 20 s'}; ` +
            `dripped body: ${b ? `${b.got.split('\r\n')[0] || 'no answer'} after ${(b.ms / 1000).toFixed(1)} s` : 'still open after 20 s'}; health meanwhile ${meanwhile}`,
        };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '10.2 connections',
    did: 'slowloris: 300 connections each sending half a request line, `--max-connections 50 --body-timeout 2`; then an idle keep-alive connection (`--keep-alive-timeout 1`)',
    expected:
      'at most 50 held, the rest closed at once; held ones 408 after ~2 s; then the server answers; the idle keep-alive connection closed after ~1 s',
    async run(ctx) {
      const s = await serve(ctx, await runCopy(ctx), [
        '--max-connections',
        '50',
        '--body-timeout',
        '2',
        '--keep-alive-timeout',
        '1',
      ]);
      try {
        const socks = Array.from({ length: 300 }, () => raw(s.port, 'GET /v1/health HT'));
        await sleep(500);
        const refused = socks.filter((x) => x.sock.destroyed || x.sock.readyState !== 'open').length;
        const ends = await Promise.all(socks.map((x) => within(x.done, 10_000)));
        const stuck = ends.filter((e) => !e).length;
        const timedOut = ends.filter((e) => e && /^HTTP\/1\.1 408/.test(e.got)).length;
        const after = (await fetch(`${s.url}/v1/health`)).status;
        const ka = raw(s.port, 'GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
        const kaEnd = await within(ka.done, 5_000);
        const ok =
          refused >= 250 &&
          stuck === 0 &&
          timedOut <= 50 &&
          timedOut > 0 &&
          after === 200 &&
          !!kaEnd &&
          kaEnd.ms < 3_000;
        return {
          ok,
          happened:
            `${refused} of 300 closed at once, ${timedOut} answered 408, ${stuck} still open after 10 s; health then ${after}; ` +
            `idle keep-alive connection ${kaEnd ? `closed after ${(kaEnd.ms / 1000).toFixed(1)} s` : 'still open after 5 s'}`,
        };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '10.3 log growth',
    did: '20 requests with a 1 MB field (text, head, tail, and in a list item), then one 6,000-character head not in the text',
    expected:
      "400 with a one-line reason naming the limit (the model's window), refit.log grows by a few KB, no value logged whole",
    async run(ctx) {
      const run = await runCopy(ctx);
      const s = await serve(ctx, run);
      try {
        const before = statSync(join(run, 'refit.log')).size;
        const big = 'x'.repeat(1_000_000);
        const bodies = [
          { text: `Ann met ${big}`, head: 'Ann', tail: 'x' },
          { text: 'Ann met Bob', head: big, tail: 'Bob' },
          { text: 'Ann met Bob', head: 'Ann', tail: big },
          [item(0), { text: 'Ann met Bob', head: 'Ann', tail: big.slice(0, 900_000) }],
        ];
        const codes: number[] = [];
        let reason = '';
        for (let i = 0; i < 20; i++) {
          const r = await predict(s.url, bodies[i % bodies.length]);
          codes.push(r.status);
          reason = (await r.json()).error;
        }
        const last = await predict(s.url, { text: 'Ann met Bob', head: 'y'.repeat(6000), tail: 'Bob' });
        const grown = statSync(join(run, 'refit.log')).size - before;
        const longest = Math.max(
          ...s
            .log()
            .split('\n')
            .map((l) => l.length),
        );
        const ok =
          codes.every((c) => c === 400) &&
          last.status === 400 &&
          grown < 20_000 &&
          longest <= 1_100 &&
          !reason.includes('\n');
        return {
          ok,
          happened: `codes ${[...new Set(codes)].join(',')} ×20 ("${reason}"), then ${last.status}; refit.log grew ${grown} bytes; longest log line ${longest} characters`,
        };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '10.3 log growth',
    did: '3,000 bad requests against `REFIT_LOG_MAX_BYTES=65536`',
    expected: 'refit.log rotated to refit.log.1: neither file over 64 KiB',
    async run(ctx) {
      const run = await runCopy(ctx);
      const s = await serve(ctx, run, [], { REFIT_LOG_MAX_BYTES: '65536' });
      try {
        for (let i = 0; i < 3000; i += 50) {
          await Promise.all(
            Array.from({ length: 50 }, (_, k) =>
              predict(s.url, {
                text: 'Ann met Bob',
                head: `Carl ${i + k} ${'z'.repeat(200)}`,
                tail: 'Bob',
              }).then((r) => r.arrayBuffer()),
            ),
          );
        }
        const size = statSync(join(run, 'refit.log')).size;
        const rotated = existsSync(join(run, 'refit.log.1')) ? statSync(join(run, 'refit.log.1')).size : -1;
        const ok = size <= 65536 && rotated > 0 && rotated <= 65536;
        return {
          ok,
          happened: `refit.log ${size} bytes, refit.log.1 ${rotated < 0 ? 'absent' : `${rotated} bytes`}`,
        };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '10.5 paths',
    did: 'GET /v1/health, /v1/model and /v1/run of a served run',
    expected:
      'names, relations and shapes; no absolute path (run folder, data files, python) in any body; config.yaml paths shown as file names',
    async run(ctx) {
      const run = await runCopy(ctx);
      const s = await serve(ctx, run);
      try {
        const found: string[] = [];
        let model: { relations?: string[]; model?: Record<string, unknown> } = {};
        let runBody: { config_yaml?: string } = {};
        for (const path of ['/v1/health', '/v1/model', '/v1/run']) {
          const text = await (await fetch(`${s.url}${path}`)).text();
          if (text.includes(ctx.tmp) || text.includes(ctx.root)) found.push(`${path}: a machine folder`);
          const m = /(?<![\w.:/])\/(tmp|home|root|usr|var|work|srv|mnt|opt|Users)\/[^"\s]*/.exec(text);
          if (m) found.push(`${path}: ${m[0]}`);
          if (path === '/v1/model') model = JSON.parse(text);
          if (path === '/v1/run') runBody = JSON.parse(text);
        }
        const train = /^ {2}train: (.*)$/m.exec(runBody.config_yaml ?? '')?.[1];
        const ok =
          found.length === 0 &&
          (model.relations?.length ?? 0) > 1 &&
          typeof model.model?.hidden_size === 'number' &&
          train === 'train.csv';
        return {
          ok,
          happened:
            `${found.length ? `paths: ${found.join('; ')}` : 'no absolute paths'}; /v1/model: ${model.relations?.length} relations, ` +
            `hidden_size ${String(model.model?.hidden_size)}; config.yaml data.train: ${train}`,
        };
      } finally {
        await s.stop();
      }
    },
  },
];
