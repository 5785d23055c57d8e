// CPU training throughput, refit defaults vs a DeepKE-like configuration (fp32, eager, every batch padded to 512,
// batch 32), in the same process on the same data: bert-mini on the first N examples of deepke-re-standard.
// Also the share of step time spent outside the worker's compute (loop wall time − the worker's own seconds).
// Run: node --import tsx bench/train-cpu.ts [--examples 960] [--threads N] [--out bench/results]
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveConfig } from '../src/config/index.ts';
import { readDataset } from '../src/data/index.ts';
import { toDeepkeCsv } from '../src/demo/index.ts';
import { runTraining } from '../src/run/index.ts';
import { findPython } from '../src/worker/index.ts';
import { workerBlas } from './blas.ts';
import { stepEvents } from './run-events.ts';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SHARED = resolve(ROOT, '../shared/assets');
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('--examples', '960'));
const OUT = resolve(arg('--out', join(ROOT, 'bench/results')));
const THREADS = process.argv.includes('--threads') ? Number(arg('--threads', '0')) : undefined;

const CONFIGS: Record<string, string[]> = {
  'refit defaults': [],
  'DeepKE-like (fp32, eager, pad to 512)': [
    'memory.mode=manual',
    'memory.padding=max',
    'memory.max_seq_len=512',
    'memory.attention=eager',
    'memory.precision=fp32',
  ],
};

interface Figures {
  steps: number;
  examples: number;
  tokens: number;
  padded_tokens: number;
  wall_s: number;
  worker_s: number;
  examples_per_s: number;
  tokens_per_s: number;
  outside_share: number;
  peak_rss_bytes: number;
}

/** Throughput from the step events: wall time between consecutive step completions (steps 2..n, so start-up is excluded). */
function figures(run: string): Figures {
  const steps = stepEvents(run);
  const timed = steps.slice(1);
  const wall = (Date.parse(steps.at(-1)!.time) - Date.parse(steps[0].time)) / 1000;
  const sum = (k: 'examples' | 'tokens' | 'padded_tokens' | 'seconds') => timed.reduce((a, e) => a + e[k], 0);
  return {
    steps: timed.length,
    examples: sum('examples'),
    tokens: sum('tokens'),
    padded_tokens: sum('padded_tokens'),
    wall_s: wall,
    worker_s: sum('seconds'),
    examples_per_s: sum('examples') / wall,
    tokens_per_s: sum('tokens') / wall,
    outside_share: 1 - sum('seconds') / wall,
    peak_rss_bytes: Math.max(...steps.map((e) => e.memory.peak_rss_bytes ?? 0)),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'refit-bench-train-'));
  const train = (await readDataset({ path: join(SHARED, 'deepke-re-standard/train.csv') })).examples.slice(
    0,
    N,
  );
  writeFileSync(join(dir, 'train.csv'), toDeepkeCsv(train));
  const results: Record<string, Figures & { decision: unknown }> = {};
  for (const [name, overrides] of Object.entries(CONFIGS)) {
    const config = resolveConfig({
      overrides: [
        `data.train=${join(dir, 'train.csv')}`,
        `data.relations=${join(SHARED, 'deepke-re-standard/relation.csv')}`,
        'model.preset=bert-mini',
        `model.vocab=${join(SHARED, 'bert-vocab/google_zh_vocab.txt')}`,
        'train.epochs=1',
        'train.batch_size=32',
        'device=cpu',
        ...overrides,
      ],
    });
    const out = join(dir, name.replace(/\W+/g, '-'));
    process.stderr.write(`${name}: training ${N} examples…\n`);
    const r = await runTraining({
      config,
      out,
      env: { ...process.env, REFIT_CACHE: join(dir, 'cache') },
      num_threads: THREADS,
    });
    results[name] = { ...figures(out), decision: r.plan.decision };
    process.stderr.write(`${name}: ${results[name].examples_per_s.toFixed(1)} examples/s\n`);
  }
  const [refit, deepke] = Object.values(results);
  const ratio = refit.examples_per_s / deepke.examples_per_s;
  const command = `node --import tsx bench/train-cpu.ts --examples ${N}${THREADS ? ` --threads ${THREADS}` : ''}`;
  const summary = {
    command,
    date: new Date().toISOString(),
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    blas: workerBlas((await findPython({ env: process.env })).python, process.env),
    examples: N,
    model: 'bert-mini (random init)',
    ratio,
    results,
  };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'train-cpu.json'), JSON.stringify(summary, null, 2) + '\n');
  const row = (name: string, f: Figures) =>
    `| ${name} | ${f.steps} | ${f.examples_per_s.toFixed(1)} | ${f.tokens_per_s.toFixed(0)} | ${((f.tokens / f.padded_tokens) * 100).toFixed(0)} % | ${(f.outside_share * 100).toFixed(2)} % | ${(f.peak_rss_bytes / 2 ** 20).toFixed(0)} MiB |`;
  const md = [
    '# CPU training throughput: refit defaults vs DeepKE-like',
    '',
    `Command: \`${command}\` (${summary.date}, ${summary.cores} × ${summary.cpu}; torch on ${summary.blas}).`,
    `bert-mini from random init, the first ${N} training examples of deepke-re-standard, batch 32, one epoch; throughput over steps 2..n`,
    'from the wall time between step completions in events.jsonl; "outside" = 1 − (worker compute seconds / wall time).',
    '',
    '| configuration | timed steps | examples/s | real tokens/s | real/padded tokens | outside the worker | peak RSS |',
    '|---|---|---|---|---|---|---|',
    ...Object.entries(results).map(([n, f]) => row(n, f)),
    '',
    `**Speed-up: ${ratio.toFixed(2)}×** examples/s (target ≥ 5×). Share of step time outside the worker with refit defaults: **${(refit.outside_share * 100).toFixed(2)} %** (target ≤ 5 %).`,
    '',
  ].join('\n');
  writeFileSync(join(OUT, 'train-cpu.md'), md);
  process.stdout.write(md);
}

await main();
