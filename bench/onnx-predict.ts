// Prediction engines compared on trained runs that have model/model.onnx: the torch worker vs onnxruntime-node fp32.
// Per run: parity on --input (same relation, score difference), end-to-end `refit predict --input` wall time
// (start-up included), model examples/s at batch 1 and 32 with 1 and 2 threads, and `refit serve` at 16 clients
// (p50/p99, cold start to the first answer, RSS of the server and its worker). All ratios are within one run.
// Usage: npm run build && node --import tsx bench/onnx-predict.ts --run DIR[,DIR2] --input FILE [--seconds 15] [--out bench/results/onnx-predict.md]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { RunLog } from '../src/log.ts';
import { readDataset } from '../src/data/index.ts';
import type { Example } from '../src/data/index.ts';
import { encodeForHead, writeEncodedDataset, type EncodedExample } from '../src/encode/index.ts';
import { findPython } from '../src/worker/index.ts';
import { ONNX_FILE, openOnnxSession, readModelFolder } from '../src/run/index.ts';
import { expect, loadCommand, setupWorker, startWorker } from '../src/run/session.ts';
import { CLI } from '../test/web/tiny-run.ts';

const { values: opts } = parseArgs({ options: { run: { type: 'string' }, input: { type: 'string' }, seconds: { type: 'string', default: '15' },
  out: { type: 'string', default: 'bench/results/onnx-predict.md' } } });
if (!opts.run || !opts.input) throw new Error('usage: --run DIR[,DIR2] --input FILE');
const SECONDS = Number(opts.seconds);
const tmp = mkdtempSync(join(tmpdir(), 'refit-bench-onnx-'));
const lines: string[] = [];
const say = (l: string) => { console.log(l); lines.push(l); };
const ms = (t0: number) => performance.now() - t0;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Runs `refit predict --input` with one engine; wall seconds and the parsed output lines. */
function predictAll(run: string, engine: string): { seconds: number; rows: Array<{ relation?: string; score?: number }> } {
  const out = join(tmp, `${engine}.jsonl`);
  const t0 = performance.now();
  execFileSync(process.execPath, [CLI, 'predict', '--run', run, '--input', opts.input!, '--engine', engine, '--output', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  const seconds = ms(t0) / 1000;
  return { seconds, rows: readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) };
}

/** Seconds the torch worker takes for `examples` in batches of `batch` (sorted by length, as `rows`), after a warm-up. */
async function torchSeconds(run: string, examples: Example[], batch: number, threads: number): Promise<number> {
  const model = readModelFolder(run);
  const log = new RunLog();
  const worker = await startWorker({ python: (await findPython({ env: process.env })).python, env: process.env, log, num_threads: threads });
  try {
    const caps = worker.ready.capabilities;
    const load = loadCommand({ dims: model.dims, head: model.refit.head, rnn: model.refit.rnn, num_labels: model.refit.num_labels, seed: 0, learning_rate: 1e-5, weight_decay: 0,
      warmup_steps: 0, total_steps: 1, max_grad_norm: 1, num_threads: threads },
    { device: 'cpu', precision: 'fp32', attention: caps.sdpa ? 'sdpa' : 'eager', grad_checkpointing: false, freeze_layers: 0, optimizer: 'adamw' });
    const ds = await writeEncodedDataset({ examples, relations: model.relations, tokenizer: model.text.tokenizer, max_seq_len: model.refit.max_seq_len,
      markers: model.text.markers, deepke_lm: model.text.deepke_lm, cache_dir: tmp });
    await setupWorker(worker, { load, datasets: [{ name: 'b', path: ds.path }], restore_from: model.dir });
    const order = Array.from(ds.lengths.keys()).sort((a, b) => ds.lengths[a] - ds.lengths[b]);
    const batches: Array<{ indices: number[]; seq_len: number }> = [];
    for (let i = 0; i < order.length; i += batch) {
      const indices = order.slice(i, i + batch);
      batches.push({ indices, seq_len: Math.max(...indices.map((k) => ds.lengths[k])) });
    }
    await expect(worker, { type: 'eval', dataset: 'b', batches: batches.slice(0, 1), tag: 'warm' }, 'eval_result');
    // One eval command per batch, as a server sends them (each pays the JSON round trip).
    const t0 = performance.now();
    for (const b of batches) await expect(worker, { type: 'eval', dataset: 'b', batches: [b], tag: 'bench' }, 'eval_result');
    return ms(t0) / 1000;
  } finally {
    await worker.close().catch(() => undefined);
  }
}

/** Model-only throughput: examples/s over `rows` in batches of `batch`, for both engines, with `threads` threads. */
async function throughput(run: string, examples: Example[], rows: EncodedExample[], batch: number, threads: number): Promise<{ torch: number; onnx: number }> {
  const model = readModelFolder(run);
  const session = await openOnnxSession({ path: join(model.dir, ONNX_FILE), threads });
  const sorted = [...rows].sort((a, b) => a.ids.length - b.ids.length);
  const warm = sorted.slice(0, batch);
  await session.logits(warm, Math.max(...warm.map((r) => r.ids.length))); // warm-up
  let t0 = performance.now();
  for (let i = 0; i < sorted.length; i += batch) {
    const part = sorted.slice(i, i + batch);
    await session.logits(part, Math.max(...part.map((r) => r.ids.length)));
  }
  const onnx = sorted.length / (ms(t0) / 1000);
  await session.close();
  return { torch: sorted.length / (await torchSeconds(run, examples, batch, threads)), onnx };
}

/** RSS in bytes of a process and all its descendants (Linux /proc). */
function treeRss(pid: number): number {
  let rss = 0;
  try {
    rss += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) rss += treeRss(Number(c));
    }
  } catch { /* gone */ }
  return rss;
}

/** `refit serve` with one engine: cold start to the first answer, then 16 clients for SECONDS; p50/p99 and RSS. */
async function serveLoad(run: string, engine: string, items: Array<{ text: string; head: string; tail: string }>) {
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--run', run, '--port', '0', '--engine', engine], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => { out += d; const m = /http:\/\/127\.0\.0\.1:\d+/.exec(out); if (m) resolve(m[0]); });
      child.on('exit', (code) => reject(new Error(`refit serve exited ${code}`)));
    });
    const post = async (i: number) => {
      const r = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(items[i % items.length]) });
      await r.json();
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    };
    await post(0);
    const cold = ms(t0) / 1000;
    const lat: number[] = [];
    const end = performance.now() + SECONDS * 1000;
    let n = 0;
    let rss = 0;
    const sampler = setInterval(() => { rss = Math.max(rss, treeRss(child.pid!)); }, 250);
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (performance.now() < end) { const s = performance.now(); await post(n++); lat.push(ms(s)); }
    }));
    clearInterval(sampler);
    lat.sort((a, b) => a - b);
    return { cold, p50: pct(lat, 50), p99: pct(lat, 99), rps: lat.length / SECONDS, rss };
  } finally {
    child.kill('SIGTERM');
  }
}

async function benchRun(run: string): Promise<void> {
  const model = readModelFolder(run);
  if (!existsSync(join(model.dir, ONNX_FILE))) throw new Error(`${run}: no model.onnx (refit export --run ${run})`);
  const dims = `${model.dims.num_hidden_layers} layers × ${model.dims.hidden_size}, vocab ${model.dims.vocab_size}, head ${model.refit.head}, max_seq_len ${model.refit.max_seq_len}`;
  say(`\n## ${basename(run)} (${dims})\n`);
  const torch = predictAll(run, 'torch');
  const onnx = predictAll(run, 'onnx');
  let same = 0;
  let maxDiff = 0;
  torch.rows.forEach((t, i) => {
    if (t.relation === onnx.rows[i].relation) same++;
    if (t.score !== undefined && onnx.rows[i].score !== undefined) maxDiff = Math.max(maxDiff, Math.abs(t.score - onnx.rows[i].score!));
  });
  say(`Parity on ${torch.rows.length} rows of ${basename(opts.input!)}: same relation ${same}/${torch.rows.length} (${(100 * same / torch.rows.length).toFixed(2)} %), max |score diff| ${maxDiff.toExponential(2)}.\n`);
  say('| `refit predict --input` (start-up included) | torch worker | ORT fp32 | ORT speed-up |');
  say('|---|---|---|---|');
  say(`| wall seconds, ${torch.rows.length} rows | ${torch.seconds.toFixed(1)} | ${onnx.seconds.toFixed(1)} | ${(torch.seconds / onnx.seconds).toFixed(2)}× |\n`);
  const ds = await readDataset({ path: opts.input! });
  const enc = { tokenizer: model.text.tokenizer, max_seq_len: model.refit.max_seq_len, markers: model.text.markers, deepke_lm: model.text.deepke_lm };
  const examples = ds.examples.slice(0, 256).map((example) => ({ ...example, relation: undefined }));
  const rows = examples.map((example) => encodeForHead({ ...enc, example }));
  say('| model only, examples/s | torch worker | ORT fp32 | ORT / torch |');
  say('|---|---|---|---|');
  for (const [batch, threads, n] of [[1, 1, 64], [1, 2, 64], [32, 1, 256], [32, 2, 256]]) {
    const t = await throughput(run, examples.slice(0, n), rows.slice(0, n), batch, threads);
    say(`| batch ${batch}, ${threads} thread${threads > 1 ? 's' : ''} | ${t.torch.toFixed(1)} | ${t.onnx.toFixed(1)} | ${(t.onnx / t.torch).toFixed(2)}× |`);
  }
  const items = ds.examples.slice(0, 200).map((e) => ({ text: e.text, head: e.head.text, tail: e.tail.text,
    head_offset: [...e.text.slice(0, e.head.start)].length, tail_offset: [...e.text.slice(0, e.tail.start)].length }));
  say('\n| `refit serve`, 16 clients, ' + `${SECONDS} s | torch worker | ORT fp32 |`);
  say('|---|---|---|');
  const s = { torch: await serveLoad(run, 'torch', items), onnx: await serveLoad(run, 'onnx', items) };
  say(`| p50 ms | ${s.torch.p50.toFixed(1)} | ${s.onnx.p50.toFixed(1)} |`);
  say(`| p99 ms | ${s.torch.p99.toFixed(1)} | ${s.onnx.p99.toFixed(1)} |`);
  say(`| requests/s | ${s.torch.rps.toFixed(1)} | ${s.onnx.rps.toFixed(1)} |`);
  say(`| cold start to first answer, s | ${s.torch.cold.toFixed(1)} | ${s.onnx.cold.toFixed(1)} |`);
  say(`| peak RSS, server + worker, MB | ${(s.torch.rss / 1e6).toFixed(0)} | ${(s.onnx.rss / 1e6).toFixed(0)} |`);
}

// Paths are shown by their last part only (no machine's folders in the committed results).
const cmd = `node --import tsx bench/onnx-predict.ts ${process.argv.slice(2).map((a) => a.split(',').map((p) => (isAbsolute(p) ? `…/${basename(p)}` : p)).join(',')).join(' ')}`;
say(`# Prediction engines: torch worker vs onnxruntime-node fp32 (${new Date().toISOString().slice(0, 10)})\n`);
say(`${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average at start ${loadavg()[0].toFixed(1)}; a shared, loaded machine: compare the columns of one table, not across runs.`);
try {
  for (const run of opts.run.split(',')) await benchRun(run);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
say(`\nint8: not measured (not implemented yet).\n\nCommand: \`npm run build && ${cmd.split(process.cwd() + '/').join('')}\``);
writeFileSync(opts.out!, lines.join('\n') + '\n');
