// Prediction engines compared on trained runs that have model/model.onnx: the torch worker, onnxruntime-node fp32 and int8.
// Per run: parity on --input (same relation, score difference), end-to-end `refit predict --input` wall time
// (start-up included), model examples/s at batch 1 and 32 with 1 and 2 threads, and `refit serve` at 16 clients
// (p50/p99, cold start to the first answer, RSS of the server and its worker). All ratios are within one run.
// Usage: npm run build && node --import tsx bench/onnx-predict.ts --run DIR[,DIR2] --input FILE [--seconds 15] [--out bench/results/onnx-predict.md]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { RunLog } from '../src/log.ts';
import { readDataset } from '../src/data/index.ts';
import type { Example } from '../src/data/index.ts';
import { encodeForHead, writeEncodedDataset, type EncodedExample } from '../src/encode/index.ts';
import { findPython } from '../src/worker/index.ts';
import {
  ONNX_FILE,
  ONNX_INT8_FILE,
  openOnnxSession,
  ortVersion,
  quantizeOnnxInt8,
} from '../src/infer/index.ts';
import { computeMetrics } from '../src/metrics/index.ts';
import {
  expect,
  inferenceLoad,
  modelSpec,
  readModelFolder,
  setupWorker,
  startWorker,
} from '../src/session/index.ts';
import { CLI } from '../test/web/tiny-run.ts';
import { workerBlas } from './blas.ts';

const { values: opts } = parseArgs({
  options: {
    run: { type: 'string' },
    input: { type: 'string' },
    seconds: { type: 'string', default: '15' },
    rows: { type: 'string', default: '256' },
    parts: { type: 'string', default: 'e2e,model,serve' },
    out: { type: 'string', default: 'bench/results/onnx-predict.md' },
  },
});
/** Rows of the model-only table at batch 32 (a quarter of them at batch 1). */
const ROWS = Number(opts.rows);
const PARTS = new Set(opts.parts!.split(','));
if (!opts.run || !opts.input) throw new Error('usage: --run DIR[,DIR2] --input FILE');
const SECONDS = Number(opts.seconds);
const tmp = mkdtempSync(join(tmpdir(), 'refit-bench-onnx-'));
const lines: string[] = [];
const say = (l: string) => {
  console.log(l);
  lines.push(l);
};
const ms = (t0: number) => performance.now() - t0;
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Runs `refit predict --input` with one engine; wall seconds and the parsed output lines. */
function predictAll(
  run: string,
  engine: string,
): { seconds: number; rows: Array<{ relation?: string; score?: number }> } {
  const out = join(tmp, `${engine}.jsonl`);
  const t0 = performance.now();
  execFileSync(
    process.execPath,
    [CLI, 'predict', '--run', run, '--input', opts.input!, '--engine', engine, '--output', out],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const seconds = ms(t0) / 1000;
  return {
    seconds,
    rows: readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
  };
}

/** Seconds the torch worker takes for `examples` in batches of `batch` (sorted by length, as `rows`), after a warm-up. */
async function torchSeconds(
  run: string,
  examples: Example[],
  batch: number,
  threads: number,
): Promise<number> {
  const model = readModelFolder(run);
  const log = new RunLog();
  const worker = await startWorker({
    python: (await findPython({ env: process.env })).python,
    env: process.env,
    log,
    num_threads: threads,
  });
  try {
    const caps = worker.ready.capabilities;
    const load = inferenceLoad(
      { ...modelSpec(model), num_threads: threads },
      { device: 'cpu', attention: caps.sdpa ? 'sdpa' : 'eager' },
    );
    const ds = await writeEncodedDataset({
      examples,
      relations: model.relations,
      tokenizer: model.text.tokenizer,
      max_seq_len: model.refit.max_seq_len,
      markers: model.text.markers,
      deepke_lm: model.text.deepke_lm,
      cache_dir: tmp,
    });
    await setupWorker(worker, { load, datasets: [{ name: 'b', path: ds.path }], restore_from: model.dir });
    const order = Array.from(ds.lengths.keys()).sort((a, b) => ds.lengths[a] - ds.lengths[b]);
    const batches: Array<{ indices: number[]; seq_len: number }> = [];
    for (let i = 0; i < order.length; i += batch) {
      const indices = order.slice(i, i + batch);
      batches.push({ indices, seq_len: Math.max(...indices.map((k) => ds.lengths[k])) });
    }
    await expect(
      worker,
      { type: 'eval', dataset: 'b', batches: batches.slice(0, 1), tag: 'warm' },
      'eval_result',
    );
    // One eval command per batch, as a server sends them (each pays the JSON round trip).
    const t0 = performance.now();
    for (const b of batches)
      await expect(worker, { type: 'eval', dataset: 'b', batches: [b], tag: 'bench' }, 'eval_result');
    return ms(t0) / 1000;
  } finally {
    await worker.close().catch(() => undefined);
  }
}

/** onnxruntime examples/s of one model file over `rows` (sorted by length) in batches of `batch`. */
async function ortThroughput(
  path: string,
  rows: EncodedExample[],
  batch: number,
  threads: number,
): Promise<number> {
  const session = await openOnnxSession({ path, threads });
  const sorted = [...rows].sort((a, b) => a.ids.length - b.ids.length);
  const warm = sorted.slice(0, batch);
  await session.logits(warm, Math.max(...warm.map((r) => r.ids.length))); // warm-up
  let t0 = performance.now();
  for (let i = 0; i < sorted.length; i += batch) {
    const part = sorted.slice(i, i + batch);
    await session.logits(part, Math.max(...part.map((r) => r.ids.length)));
  }
  const eps = sorted.length / (ms(t0) / 1000);
  await session.close();
  return eps;
}

/** Model-only throughput: examples/s over `rows` in batches of `batch`, torch worker and ORT fp32, with `threads` threads. */
async function throughput(
  run: string,
  examples: Example[],
  rows: EncodedExample[],
  batch: number,
  threads: number,
): Promise<{ torch: number; onnx: number }> {
  const onnx = await ortThroughput(join(readModelFolder(run).dir, ONNX_FILE), rows, batch, threads);
  return { torch: rows.length / (await torchSeconds(run, examples, batch, threads)), onnx };
}

/** RSS in bytes of a process and all its descendants (Linux /proc). */
function treeRss(pid: number): number {
  let rss = 0;
  try {
    rss += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean))
        rss += treeRss(Number(c));
    }
  } catch {
    /* gone */
  }
  return rss;
}

/** `refit serve` with one engine: cold start to the first answer, then 16 clients for SECONDS; p50/p99 and RSS. */
async function serveLoad(
  run: string,
  engine: string,
  items: Array<{ text: string; head: string; tail: string }>,
) {
  const t0 = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'serve', '--run', run, '--port', '0', '--engine', engine],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
        if (m) resolve(m[0]);
      });
      child.on('exit', (code) => reject(new Error(`refit serve exited ${code}`)));
    });
    const post = async (i: number) => {
      const r = await fetch(`${url}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(items[i % items.length]),
      });
      await r.json();
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    };
    await post(0);
    const cold = ms(t0) / 1000;
    const lat: number[] = [];
    const end = performance.now() + SECONDS * 1000;
    let n = 0;
    let rss = 0;
    const sampler = setInterval(() => {
      rss = Math.max(rss, treeRss(child.pid!));
    }, 250);
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (performance.now() < end) {
          const s = performance.now();
          await post(n++);
          lat.push(ms(s));
        }
      }),
    );
    clearInterval(sampler);
    lat.sort((a, b) => a - b);
    return { cold, p50: pct(lat, 50), p99: pct(lat, 99), rps: lat.length / SECONDS, rss };
  } finally {
    child.kill('SIGTERM');
  }
}

/**
 * A copy of the run whose onnx engine is fp32 or int8 (model.int8.onnx made here), whatever its refit.json chose,
 * so `--engine onnx` in predict and serve loads that one.
 */
function engineCopy(run: string, kind: 'onnx' | 'onnx-int8'): string {
  const copy = join(tmp, `${basename(run)}-${kind}`);
  cpSync(run, copy, { recursive: true, filter: (src) => !src.startsWith(join(run, 'checkpoints')) });
  const dir = readModelFolder(copy).dir;
  if (kind === 'onnx-int8')
    writeFileSync(join(dir, ONNX_INT8_FILE), quantizeOnnxInt8(readFileSync(join(dir, ONNX_FILE))).bytes);
  const refit = JSON.parse(readFileSync(join(dir, 'refit.json'), 'utf8'));
  writeFileSync(join(dir, 'refit.json'), JSON.stringify({ ...refit, onnx: { ...refit.onnx, engine: kind } }));
  return copy;
}

async function benchRun(run: string): Promise<void> {
  const model = readModelFolder(run);
  if (!existsSync(join(model.dir, ONNX_FILE)))
    throw new Error(`${run}: no model.onnx (refit export --run ${run})`);
  const dims = `${model.dims.num_hidden_layers} layers × ${model.dims.hidden_size}, vocab ${model.dims.vocab_size}, head ${model.refit.head}, max_seq_len ${model.refit.max_seq_len}`;
  say(`\n## ${basename(run)} (${dims})\n`);
  const f = engineCopy(run, 'onnx');
  const q = engineCopy(run, 'onnx-int8');
  const ds = await readDataset({ path: opts.input! });
  if (PARTS.has('e2e')) await endToEnd(run, f, q, ds, model);
  const enc = {
    tokenizer: model.text.tokenizer,
    max_seq_len: model.refit.max_seq_len,
    markers: model.text.markers,
    deepke_lm: model.text.deepke_lm,
  };
  const examples = ds.examples.slice(0, ROWS).map((example) => ({ ...example, relation: undefined }));
  const rows = examples.map((example) => encodeForHead({ ...enc, example }));
  if (PARTS.has('model')) {
    say('| model only, examples/s | torch worker | ORT fp32 | ORT int8 |');
    say('|---|---|---|---|');
    for (const [batch, threads, n] of [
      [1, 1, ROWS / 4],
      [1, 2, ROWS / 4],
      [32, 1, ROWS],
      [32, 2, ROWS],
    ]) {
      const t = await throughput(run, examples.slice(0, n), rows.slice(0, n), batch, threads);
      const i8 = await ortThroughput(
        join(readModelFolder(q).dir, ONNX_INT8_FILE),
        rows.slice(0, n),
        batch,
        threads,
      );
      say(
        `| batch ${batch}, ${threads} thread${threads > 1 ? 's' : ''} (${n} rows) | ${t.torch.toFixed(1)} | ${t.onnx.toFixed(1)} (${(t.onnx / t.torch).toFixed(2)}×) | ${i8.toFixed(1)} (${(i8 / t.torch).toFixed(2)}×) |`,
      );
    }
  }
  if (PARTS.has('serve')) await serveAll(run, f, q, ds);
}

/** `refit predict --input` with each engine: parity, wall time and macro-F1. */
async function endToEnd(
  run: string,
  f: string,
  q: string,
  ds: Awaited<ReturnType<typeof readDataset>>,
  model: ReturnType<typeof readModelFolder>,
): Promise<void> {
  const e2e = { torch: predictAll(run, 'torch'), onnx: predictAll(f, 'onnx'), int8: predictAll(q, 'onnx') };
  let same = 0;
  let maxDiff = 0;
  const { torch, onnx } = e2e;
  torch.rows.forEach((t, i) => {
    if (t.relation === onnx.rows[i].relation) same++;
    if (t.score !== undefined && onnx.rows[i].score !== undefined)
      maxDiff = Math.max(maxDiff, Math.abs(t.score - onnx.rows[i].score!));
  });
  say(
    `Parity on ${torch.rows.length} rows of ${basename(opts.input!)}: ORT fp32 gives torch's relation on ${same}/${torch.rows.length} (${((100 * same) / torch.rows.length).toFixed(2)} %), max |score diff| ${maxDiff.toExponential(2)}.\n`,
  );
  const gold = ds.examples.map((e) => e.relation ?? '');
  const f1 = (r: typeof torch) =>
    ds.examples.every((e) => e.relation !== undefined)
      ? (
          100 *
          computeMetrics({
            gold,
            pred: r.rows.map((x) => x.relation ?? ''),
            na_label: model.relations.na_label,
          }).macro_f1
        ).toFixed(2)
      : 'n/a';
  say('| `refit predict --input` (start-up included) | torch worker | ORT fp32 | ORT int8 |');
  say('|---|---|---|---|');
  say(
    `| wall seconds, ${torch.rows.length} rows | ${torch.seconds.toFixed(1)} | ${onnx.seconds.toFixed(1)} (${(torch.seconds / onnx.seconds).toFixed(2)}× faster) | ${e2e.int8.seconds.toFixed(1)} (${(torch.seconds / e2e.int8.seconds).toFixed(2)}×) |`,
  );
  say(`| macro-F1 against the file's labels | ${f1(torch)} | ${f1(onnx)} | ${f1(e2e.int8)} |\n`);
}

/** `refit serve` with each engine under 16 clients. */
async function serveAll(
  run: string,
  f: string,
  q: string,
  ds: Awaited<ReturnType<typeof readDataset>>,
): Promise<void> {
  const items = ds.examples.slice(0, 200).map((e) => ({
    text: e.text,
    head: e.head.text,
    tail: e.tail.text,
    head_offset: [...e.text.slice(0, e.head.start)].length,
    tail_offset: [...e.text.slice(0, e.tail.start)].length,
  }));
  say(
    '\n| `refit serve`, 16 clients, ' +
      `${SECONDS} s (default threads) | torch worker | ORT fp32 | ORT int8 |`,
  );
  say('|---|---|---|---|');
  const s = {
    torch: await serveLoad(run, 'torch', items),
    onnx: await serveLoad(f, 'onnx', items),
    int8: await serveLoad(q, 'onnx', items),
  };
  const line = (name: string, f: (x: typeof s.torch) => string) =>
    say(`| ${name} | ${f(s.torch)} | ${f(s.onnx)} | ${f(s.int8)} |`);
  line('p50 ms', (x) => x.p50.toFixed(1));
  line('p99 ms', (x) => x.p99.toFixed(1));
  line('requests/s', (x) => x.rps.toFixed(1));
  line('cold start to first answer, s', (x) => x.cold.toFixed(1));
  line('peak RSS, server + worker, MB', (x) => (x.rss / 1e6).toFixed(0));
}

// Paths are shown by their last part only (no machine's folders in the committed results).
const cmd = `node --import tsx bench/onnx-predict.ts ${process.argv
  .slice(2)
  .map((a) =>
    a
      .split(',')
      .map((p) => (isAbsolute(p) ? `…/${basename(p)}` : p))
      .join(','),
  )
  .join(' ')}`;
say(
  `# Prediction engines: torch worker vs onnxruntime-node fp32 and int8 (${new Date().toISOString().slice(0, 10)})\n`,
);
say(
  `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average at start ${loadavg()[0].toFixed(1)}; a shared, loaded machine: compare the columns of one table, not across runs.`,
);
const python = (await findPython({ env: process.env })).python;
const torchVersion = execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], {
  encoding: 'utf8',
}).trim();
say(
  `torch ${torchVersion} on ${workerBlas(python, process.env)} (the worker's probe); onnxruntime-node ${await ortVersion()}.`,
);
try {
  for (const run of opts.run.split(',')) await benchRun(run);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
say(
  `\nint8 here is refit's own rewrite (model.int8.onnx as refit export --quantize int8 writes it), measured whatever refit.json decided.\n\nCommand: \`npm run build && ${cmd.split(process.cwd() + '/').join('')}\``,
);
writeFileSync(opts.out!, lines.join('\n') + '\n');
