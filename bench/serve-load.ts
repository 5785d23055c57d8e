// Load benchmark of `refit serve` on loopback: N concurrent clients send single-sentence POST /v1/predict for a
// bounded time; reports requests/s, p50/p90/p99 latency and errors, against a 1-client baseline in the same run.
// Usage: node --import tsx bench/serve-load.ts [--run DIR] [--clients 16] [--seconds 20] [--threads default,1] [--heavy-items 256] [--out bench/results/serve-load.md]
// Each --threads setting gets its own `refit serve` (worker CPU threads: 'default' = all cores).
// The mixed-load row: the same N light clients while one heavy client sends lists of --heavy-items long items
// (about 4 KiB of text each: 256 of them make a 1 MiB request); the light clients' p99 against their own p99
// without the heavy client, both from the same server in the same run.
// Without --run it trains a bert-mini run on the demo data first (CPU). Loopback only; needs `npm run build`.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEMO_PREDICT_INPUTS } from '../src/demo/index.ts';
import { CLI, trainTinyRun } from '../test/web/tiny-run.ts';
import { findPython } from '../src/worker/index.ts';
import { workerBlas } from './blas.ts';

interface Phase {
  clients: number;
  seconds: number;
  requests: number;
  errors: number;
  error_kinds: Record<string, number>;
  latencies_ms: number[];
}

const pct = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;

async function startServe(run: string, threads: string): Promise<{ child: ChildProcess; url: string }> {
  const args = [
    CLI,
    'serve',
    '--run',
    run,
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    ...(threads === 'default' ? [] : ['--threads', threads]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
      if (m) resolve(m[0]);
    });
    child.on('exit', (code) => reject(new Error(`refit serve exited ${code}`)));
  });
  return { child, url };
}

async function one(url: string, i: number): Promise<{ ms: number; error?: string }> {
  const item = DEMO_PREDICT_INPUTS[i % DEMO_PREDICT_INPUTS.length];
  const t0 = performance.now();
  try {
    const r = await fetch(`${url}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: item.text, head: item.head, tail: item.tail }),
    });
    const body = (await r.json()) as { relation?: string; error?: string };
    const ms = performance.now() - t0;
    if (r.status !== 200 || !body.relation)
      return { ms, error: `HTTP ${r.status} ${body.error ?? ''}`.trim() };
    return { ms };
  } catch (e) {
    return { ms: performance.now() - t0, error: (e as Error).message };
  }
}

/** One long item (about 4 KiB of text) whose entities are found near its start. */
function heavyItem(i: number): { text: string; head: string; tail: string } {
  const item = DEMO_PREDICT_INPUTS[i % DEMO_PREDICT_INPUTS.length];
  let text = item.text;
  while (text.length < 4000)
    text += ' ' + DEMO_PREDICT_INPUTS[(i + text.length) % DEMO_PREDICT_INPUTS.length].text;
  return { text, head: item.head, tail: item.tail };
}

/** Sends lists of `items` long items back to back until `end`; returns the requests answered and the errors. */
async function heavyClient(url: string, items: number, end: number): Promise<Heavy> {
  const body = JSON.stringify(Array.from({ length: items }, (_, i) => heavyItem(i)));
  const res: Heavy = { items, bytes: Buffer.byteLength(body), requests: 0, errors: 0, latencies_ms: [] };
  while (performance.now() < end) {
    const t0 = performance.now();
    try {
      const r = await fetch(`${url}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const out = (await r.json()) as unknown[];
      if (r.status !== 200 || !Array.isArray(out) || out.length !== items) res.errors++;
    } catch {
      res.errors++;
    }
    res.requests++;
    res.latencies_ms.push(performance.now() - t0);
  }
  return res;
}

interface Heavy {
  items: number;
  bytes: number;
  requests: number;
  errors: number;
  latencies_ms: number[];
}

async function phase(
  url: string,
  clients: number,
  seconds: number,
  heavyItems = 0,
): Promise<Phase & { heavy?: Heavy }> {
  const end = performance.now() + seconds * 1000;
  const heavy = heavyItems > 0 ? heavyClient(url, heavyItems, end) : undefined;
  const res: Phase = { clients, seconds, requests: 0, errors: 0, error_kinds: {}, latencies_ms: [] };
  let n = 0;
  const client = async () => {
    while (performance.now() < end) {
      const r = await one(url, n++);
      res.requests++;
      res.latencies_ms.push(r.ms);
      if (r.error) {
        res.errors++;
        res.error_kinds[r.error] = (res.error_kinds[r.error] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  res.latencies_ms.sort((a, b) => a - b);
  return heavy ? { ...res, heavy: await heavy } : res;
}

function row(p: Phase): string {
  const l = p.latencies_ms;
  return `| ${p.clients} | ${p.seconds} | ${p.requests} | ${(p.requests / p.seconds).toFixed(1)} | ${pct(l, 50).toFixed(1)} | ${pct(l, 90).toFixed(1)} | ${pct(l, 99).toFixed(1)} | ${(l[l.length - 1] ?? NaN).toFixed(1)} | ${p.errors} |`;
}

interface Measured {
  threads: string;
  base: Phase;
  loaded: Phase;
  mixed: (Phase & { heavy?: Heavy }) | null;
  calls: number;
  items: number;
  load: number;
  model: Record<string, unknown>;
}

/** Runs the 1-client baseline and the N-client phase against one `refit serve`. */
async function measure(opts: {
  run: string;
  threads: string;
  clients: number;
  seconds: number;
  heavy_items: number;
}): Promise<Measured> {
  const { child, url } = await startServe(opts.run, opts.threads);
  const calls = async () =>
    ((await (await fetch(`${url}/v1/health`)).json()) as { worker_calls: { calls: number; items: number } })
      .worker_calls;
  try {
    await phase(url, 1, 2); // warm-up: load the model into the worker, first allocations
    const load = loadavg()[0];
    const base = await phase(url, 1, Math.max(5, Math.round(opts.seconds / 4)));
    const c0 = await calls();
    const loaded = await phase(url, opts.clients, opts.seconds);
    const c1 = await calls();
    const mixed =
      opts.heavy_items > 0 ? await phase(url, opts.clients, opts.seconds, opts.heavy_items) : null;
    const model = ((await (await fetch(`${url}/v1/model`)).json()) as { model: Record<string, unknown> })
      .model;
    return {
      threads: opts.threads,
      base,
      loaded,
      mixed,
      calls: c1.calls - c0.calls,
      items: c1.items - c0.items,
      load,
      model,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

function section(m: Measured, clients: number): string[] {
  const p99 = pct(m.loaded.latencies_ms, 99);
  return [
    `## worker threads: ${m.threads} (load average ${m.load.toFixed(1)} at the start)`,
    '',
    '| clients | seconds | requests | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |',
    '|---|---|---|---|---|---|---|---|---|',
    row(m.base),
    row(m.loaded),
    '',
    `Batching at ${clients} clients: ${m.calls} worker calls for ${m.items} items (${(m.items / Math.max(1, m.calls)).toFixed(1)} items per call). ` +
      `Throughput ${clients} clients / 1 client: ${(m.loaded.requests / m.loaded.seconds / (m.base.requests / m.base.seconds)).toFixed(2)}×. ` +
      (m.loaded.errors ? `Errors: ${JSON.stringify(m.loaded.error_kinds)}.` : 'Errors: none.'),
    `Target (zero errors, p99 < 200 ms at 16 clients): ${m.loaded.errors === 0 && p99 < 200 ? 'met' : 'NOT met'}.`,
    '',
    ...(m.mixed ? mixedLines(m.loaded, m.mixed) : []),
  ];
}

function mixedLines(light: Phase, mixed: Phase & { heavy?: Heavy }): string[] {
  const h = mixed.heavy!;
  const hl = [...h.latencies_ms].sort((a, b) => a - b);
  const ratio = pct(mixed.latencies_ms, 99) / pct(light.latencies_ms, 99);
  return [
    `Mixed load: the ${mixed.clients} light clients (rows: without, then with the heavy client) while one heavy client ` +
      `sends ${h.items} long items per request (${(h.bytes / 1024).toFixed(0)} KiB): ${h.requests} heavy requests ` +
      `answered (median ${pct(hl, 50).toFixed(0)} ms, ${h.errors} errors).`,
    '',
    '| clients | seconds | requests | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |',
    '|---|---|---|---|---|---|---|---|---|',
    row(light),
    row(mixed).replace(/^\| (\d+) /, '| $1 + 1 heavy '),
    '',
    `Light p99 with the heavy client / without: ${ratio.toFixed(2)}× (target <= 2×: ${ratio <= 2 ? 'met' : 'NOT met'}).`,
    '',
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      run: { type: 'string' },
      clients: { type: 'string', default: '16' },
      seconds: { type: 'string', default: '20' },
      threads: { type: 'string', default: 'default,1' },
      'heavy-items': { type: 'string', default: '256' },
      out: { type: 'string', default: 'bench/results/serve-load.md' },
    },
  });
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const run = values.run ?? trainTinyRun({ preset: 'bert-mini', epochs: 1 });
  const results: Measured[] = [];
  for (const threads of String(values.threads).split(','))
    results.push(
      await measure({ run, threads, clients, seconds, heavy_items: Number(values['heavy-items']) }),
    );
  const dims = results[0].model;
  const md = [
    '# refit serve under load (loopback, CPU)',
    '',
    `Command: \`node --import tsx bench/serve-load.ts${values.run ? ' --run RUN' : ''} --clients ${clients} --seconds ${seconds} --threads ${values.threads} --heavy-items ${values['heavy-items']}\`` +
      (values.run ? '' : ' (trains a bert-mini run on the demo data first)'),
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, shared with other work (load average below); the worker's torch on ` +
      `${workerBlas((await findPython({ env: process.env })).python, process.env)}. Model hidden_size ${dims.hidden_size}, ` +
      `${dims.num_hidden_layers} layers${values.run ? '' : ' (bert-mini shape)'}, one worker process, CPU fp32; single-sentence requests from the demo's prediction inputs; ` +
      'latency is measured by the client (request sent → JSON parsed).',
    '',
    ...results.flatMap((m) => section(m, clients)),
  ].join('\n');
  writeFileSync(values.out as string, md);
  process.stdout.write(md);
}

await main();
