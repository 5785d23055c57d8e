// refit serve's HTTP layer on bad input: every bad request gets a 4xx JSON {error} in one line, and the server
// keeps serving. Runs without a trained model (validation happens before the worker is needed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { RunLog } from '../../src/log.ts';
import { startServer } from '../../src/serve/index.ts';
import { writeSyntheticRun } from '../report/synthetic-run.ts';

let url = '';
let close: () => Promise<void>;
const log = new RunLog();

before(async () => {
  const s = await startServer({
    run_dir: writeSyntheticRun({ steps: 5 }),
    host: '127.0.0.1',
    port: 0,
    log,
    env: {},
    web_dir: null,
    request_timeout_ms: 800,
  });
  url = s.url;
  close = s.close;
});
after(() => close());

async function post(body: string, type = 'application/json'): Promise<{ status: number; json: any }> {
  const r = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: r.status, json: await r.json() };
}

const CASES: Array<{ name: string; body: string; status: number; error: string | RegExp }> = [
  {
    name: 'malformed JSON',
    body: '{"text": "a b", "head":',
    status: 400,
    error: /^body is not valid JSON: /,
  },
  {
    name: 'wrong type',
    body: JSON.stringify({ text: 'Ann met Bob', head: 5, tail: 'Bob' }),
    status: 400,
    error: 'body.head: must be string',
  },
  {
    name: 'missing field',
    body: JSON.stringify({ text: 'Ann met Bob', head: 'Ann' }),
    status: 400,
    error: 'body: missing field "tail"',
  },
  {
    name: 'bad item in a list',
    body: JSON.stringify([
      { text: 'Ann met Bob', head: 'Ann', tail: 'Bob' },
      { head: 'x', tail: 'y' },
    ]),
    status: 400,
    error: 'body[1]: missing field "text"',
  },
  {
    name: 'not an object',
    body: '"hello"',
    status: 400,
    error: 'body: must be an object {text, head, tail} or a list of them',
  },
  { name: 'empty list', body: '[]', status: 400, error: 'body: must NOT have fewer than 1 items' },
  {
    name: 'negative offset',
    body: JSON.stringify({ text: 'Ann met Bob', head: 'Ann', tail: 'Bob', head_offset: -1 }),
    status: 400,
    error: 'body.head_offset: must be >= 0',
  },
  {
    name: 'entity not in text',
    body: JSON.stringify({ text: 'Ann met Bob', head: 'Carl', tail: 'Bob' }),
    status: 400,
    error: "head 'Carl' is not in the text",
  },
  {
    name: 'offset not at entity',
    body: JSON.stringify({ text: 'Ann met Bob', head: 'Ann', tail: 'Bob', tail_offset: 2 }),
    status: 400,
    error: "tail 'Bob' is not at tail_offset 2",
  },
  {
    name: 'null body',
    body: 'null',
    status: 400,
    error: 'body: must be an object {text, head, tail} or a list of them',
  },
  { name: 'null item in a list', body: '[null]', status: 400, error: 'body[0]: must be object' },
  {
    name: 'fractional offset',
    body: JSON.stringify({ text: 'Ann met Bob', head: 'Ann', tail: 'Bob', head_offset: 1.5 }),
    status: 400,
    error: 'body.head_offset: must be integer',
  },
  // no model yet: the limit is what a 512-token model can read (512 tokens of at most 100 characters and a space)
  {
    name: 'text over the length limit',
    body: JSON.stringify({ text: 'a'.repeat(51_713), head: 'a', tail: 'a' }),
    status: 400,
    error:
      'body.text: longer than 51712 characters, more than the model reads (512 tokens of at most 100 characters)',
  },
  {
    name: 'head over the length limit',
    body: JSON.stringify({ text: 'a', head: 'a'.repeat(51_713), tail: 'a' }),
    status: 400,
    error:
      'body.head: longer than 51712 characters, more than the model reads (512 tokens of at most 100 characters)',
  },
  {
    name: 'tail over the length limit in a list',
    body: JSON.stringify([
      { text: 'a', head: 'a', tail: 'a' },
      { text: 'a', head: 'a', tail: 'b'.repeat(60_000) },
    ]),
    status: 400,
    error:
      'body[1].tail: longer than 51712 characters, more than the model reads (512 tokens of at most 100 characters)',
  },
  {
    name: 'too many items',
    body: JSON.stringify(Array(257).fill({ text: 'Ann met Bob', head: 'Ann', tail: 'Bob' })),
    status: 400,
    error: 'body: must NOT have more than 256 items',
  },
  {
    name: 'deeply nested JSON',
    body: '['.repeat(5000) + ']'.repeat(5000),
    status: 400,
    error: /^body\[0\]: must be object$/,
  },
  {
    name: 'a __proto__ key (valid JSON: the key is dropped, the rest is read)',
    body: '{"text": "Ann met Bob", "head": "Ann", "__proto__": {"tail": "Bob"}}',
    status: 400,
    error: 'body: missing field "tail"',
  },
  {
    name: 'valid request with a __proto__ key, no trained model yet',
    body: '{"text": "Ann met Bob", "head": "Ann", "tail": "Bob", "__proto__": {"polluted": true}}',
    status: 503,
    error: /^no trained model in .*model yet/,
  },
  {
    name: 'valid request, no trained model yet',
    body: JSON.stringify({ text: 'Ann met Bob', head: 'Ann', tail: 'Bob' }),
    status: 503,
    error: /^no trained model in .*model yet/,
  },
];

for (const c of CASES) {
  test(`POST /v1/predict: ${c.name} -> ${c.status}`, async () => {
    const r = await post(c.body);
    assert.equal(r.status, c.status);
    if (typeof c.error === 'string') assert.equal(r.json.error, c.error);
    else assert.match(r.json.error, c.error);
    assert.ok(!String(r.json.error).includes('\n'));
  });
}

test('wrong content type -> 415 JSON', async () => {
  const r = await post('text=hi', 'text/plain');
  assert.equal(r.status, 415);
  assert.equal(r.json.error, 'content-type must be application/json (got text/plain)');
});

test('10 MB body -> 413 with the limit named', async () => {
  const big = JSON.stringify({ text: 'x'.repeat(10 * 1024 * 1024), head: 'x', tail: 'x' });
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      `${url}/v1/predict`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(big) },
      },
      (r) => {
        let b = '';
        r.on('data', (d) => (b += d));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body: b }));
      },
    );
    req.on('error', reject);
    req.end(big);
  });
  assert.equal(res.status, 413);
  assert.equal(JSON.parse(res.body).error, 'request body is larger than the 1048576 byte limit');
});

test('unknown route -> 404 JSON', async () => {
  const r = await fetch(`${url}/v2/nothing?x=1`);
  assert.equal(r.status, 404);
  assert.deepEqual(await r.json(), { error: 'no route GET /v2/nothing' });
});

test('slow client (body never finishes) -> 408 and disconnected; others are served meanwhile', async () => {
  const sock = connect(Number(new URL(url).port), '127.0.0.1');
  let got = '';
  sock.on('data', (d) => (got += d));
  const closed = new Promise((resolve) => sock.on('close', resolve));
  sock.write(
    'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"text":',
  );
  const health = await fetch(`${url}/v1/health`);
  assert.equal(health.status, 200);
  await closed;
  assert.match(got, /^HTTP\/1\.1 408 /);
});

test('the server still serves after all of the above: health and live run data', async () => {
  const h = await (await fetch(`${url}/v1/health`)).json();
  assert.equal(h.status, 'ok');
  assert.equal(h.model_loaded, false);
  const run = await (await fetch(`${url}/v1/run?after=3`)).json();
  assert.equal(run.next, 7); // run_start + 5 steps + run_end
  assert.equal(run.events.length, run.next - 3);
  const bad = await fetch(`${url}/v1/run?after=minus`);
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error, 'querystring.after: must be integer');
});

test('an internal failure answers 500 with one line; the stack goes to the run log only', async () => {
  const run_dir = writeSyntheticRun({ steps: 1 });
  rmSync(join(run_dir, 'events.jsonl'));
  mkdirSync(join(run_dir, 'events.jsonl')); // reading it fails with EISDIR inside the route
  const runLog = new RunLog();
  const s = await startServer({ run_dir, host: '127.0.0.1', port: 0, log: runLog, env: {}, web_dir: null });
  try {
    const r = await fetch(`${s.url}/v1/run`);
    assert.equal(r.status, 500);
    assert.deepEqual(await r.json(), { error: 'internal error (details in the server log)' });
    assert.match(runLog.lastLines(20).join('\n'), /EISDIR[\s\S]*\n\s+at /);
    assert.equal((await fetch(`${s.url}/v1/health`)).status, 200);
  } finally {
    await s.close();
  }
});
