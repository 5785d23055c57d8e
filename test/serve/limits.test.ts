// refit serve against hostile clients, through the real `refit serve` process: a stalled body is answered 408 and
// dropped, slow headers and idle keep-alive connections are closed, connections past --max-connections are refused,
// 1 MB fields are refused in one line and leave the log small, and no body shows the machine's paths.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CLI, NO_CLI, cachedTinyRun } from '../web/tiny-run.ts';

/** Opens a raw connection, writes `data`, and resolves with what came back and when the server closed it. */
function rawSocket(port: number, data: string): { sock: Socket; done: Promise<{ got: string; ms: number }> } {
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

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms),
    ),
  ]);

describe('refit serve --body-timeout 1 --keep-alive-timeout 1 --max-connections 4', { skip: NO_CLI }, () => {
  let url = '';
  let port = 0;
  let run_dir = '';
  let child: ChildProcess;

  before(async () => {
    run_dir = join(mkdtempSync(join(tmpdir(), 'refit-limits-')), 'run');
    cpSync(cachedTinyRun(), run_dir, { recursive: true });
    rmSync(join(run_dir, 'refit.log'), { force: true });
    child = spawn(
      process.execPath,
      [
        CLI,
        'serve',
        '--run',
        run_dir,
        '--port',
        '0',
        '--body-timeout',
        '1',
        '--keep-alive-timeout',
        '1',
        '--max-connections',
        '4',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /http:\/\/[\d.]+:\d+/.exec(out);
        if (m) resolve(m[0]);
      });
      child.on('exit', (code) => reject(new Error(`refit serve exited ${code}`)));
    });
    port = Number(new URL(url).port);
  });
  after(async () => {
    if (child.exitCode === null)
      await new Promise((resolve) => {
        child.on('exit', resolve);
        child.kill('SIGTERM');
      });
    rmSync(dirname(run_dir), { recursive: true, force: true });
  });

  test('headers and half a body, then nothing: 408 and disconnected after the body timeout', async () => {
    const { done } = rawSocket(
      port,
      'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"text": "Ann met',
    );
    const r = await within(done, 5_000, 'stalled body');
    assert.match(r.got, /^HTTP\/1\.1 408 /);
    assert.ok(r.ms >= 900, `closed after ${r.ms} ms`);
  });

  test('a body sent a byte at a time past the timeout: 408 too (the timeout covers the whole request)', async () => {
    const { sock, done } = rawSocket(
      port,
      'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n',
    );
    const drip = setInterval(() => {
      if (!sock.destroyed) sock.write(' ');
    }, 200);
    try {
      const r = await within(done, 5_000, 'dripping body');
      assert.match(r.got, /^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
    }
  });

  test('slow headers: disconnected after the timeout', async () => {
    const { done } = rawSocket(port, 'GET /v1/health HTTP/1.1\r\nHost: x\r\n');
    const r = await within(done, 5_000, 'slow headers');
    assert.match(r.got, /^HTTP\/1\.1 408 /);
  });

  test('an idle keep-alive connection is closed after --keep-alive-timeout', async () => {
    const { done } = rawSocket(port, 'GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    const r = await within(done, 5_000, 'idle keep-alive');
    assert.match(r.got, /^HTTP\/1\.1 200 /);
    assert.match(r.got, /Keep-Alive: timeout=1/);
  });

  test('connections past --max-connections are closed at once; the server serves again once the slow ones are reaped', async () => {
    const slow = Array.from({ length: 4 }, () => rawSocket(port, 'GET /v1/health HTTP/1.1\r\n'));
    await new Promise((d) => setTimeout(d, 200));
    const extra = rawSocket(port, 'GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await within(extra.done, 800, 'connection over the cap');
    assert.equal(r.got, '', 'refused without an answer');
    await Promise.all(slow.map((s) => within(s.done, 5_000, 'slow connection')));
    assert.equal((await fetch(`${url}/v1/health`)).status, 200);
  });

  test('20 requests with 1 MB text/head/tail fields: 400 naming the limit in one line; refit.log stays small', async () => {
    const before = statSync(join(run_dir, 'refit.log')).size;
    const big = 'x'.repeat(1_000_000);
    const bodies = [
      { text: `Ann met ${big}`, head: 'Ann', tail: 'x' },
      { text: 'Ann met Bob', head: big, tail: 'Bob' },
      { text: 'Ann met Bob', head: 'Ann', tail: big },
      [
        { text: 'Ann met Bob', head: 'Ann', tail: 'Bob' },
        { text: 'Ann met Bob', head: big.slice(0, 900_000), tail: 'Bob' },
      ],
    ];
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${url}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bodies[i % bodies.length]),
      });
      assert.equal(r.status, 400);
      const { error } = await r.json();
      assert.match(
        error,
        /^body(\[1\])?\.(text|head|tail): longer than 6464 characters, more than the model reads \(64 tokens of at most 100 characters\)$/,
      );
    }
    // a head that passes the schema but is not in the text: the log names it cut short
    const r = await fetch(`${url}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Ann met Bob', head: 'y'.repeat(6000), tail: 'Bob' }),
    });
    assert.equal(r.status, 400);
    const grown = statSync(join(run_dir, 'refit.log')).size - before;
    assert.ok(grown < 16_000, `refit.log grew ${grown} bytes for 21 bad requests`);
  });

  test("/v1/health, /v1/model and /v1/run show names, relations and shapes, never the machine's paths", async () => {
    const parent = dirname(run_dir);
    for (const path of ['/v1/health', '/v1/model', '/v1/run']) {
      const text = await (await fetch(`${url}${path}`)).text();
      assert.ok(!text.includes(parent), `${path} shows the run folder's path`);
      assert.doesNotMatch(text, /"(\/|[A-Za-z]:\\)[^"]*"/, `${path} has a string that is an absolute path`);
      assert.doesNotMatch(
        text,
        /(?<![\w.:/])\/(tmp|home|root|usr|var|work|srv|mnt|Users)\//,
        `${path} has a path inside a string`,
      );
    }
    const model = await (await fetch(`${url}/v1/model`)).json();
    assert.equal(model.run, 'run');
    assert.equal(model.model.hidden_size, 128);
    assert.ok(model.relations.length > 1);
    const run = await (await fetch(`${url}/v1/run`)).json();
    assert.equal(run.events[0].run_dir, 'run');
    assert.match(run.config_yaml, /^ {2}train: train\.csv$/m);
    const h = await (await fetch(`${url}/v1/health`)).json();
    assert.equal(h.run, 'run');
    assert.ok(!('run_dir' in h));
  });
});
