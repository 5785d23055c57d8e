// CPU training throughput with several ranks (issue 12): 2 ranks × 1 thread (gloo; ddp, then zero1) against 1 process
// × 2 threads, same data, seed and effective batch, all in this one run, reported as measured whichever wins. bert-mini
// on the first N examples of deepke-re-standard (or generated data when the shared assets are absent), dropout 0, so
// the runs also train the same model: the final losses are printed side by side. Each rank's peak RSS (the step events'
// rank_memory) gives the measured zero1 saving per rank, set beside the planner's (optimizer states ÷ world).
// --fsdp adds a 2-rank fsdp row (FSDP2: a torch where it trains on CPU, e.g. REFIT_PYTHON at Debian's 2.14) and its
// measured saving against the planner's; the figures then go to train-distributed-cpu-torch<version>.md.
// Run: node --import tsx bench/train-distributed.ts [--examples 640] [--out bench/results] [--fsdp]
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveConfig } from '../src/config/index.ts';
import { readDataset } from '../src/data/index.ts';
import { generateDemoDataset, toDeepkeCsv, toRelationCsv } from '../src/demo/index.ts';
import { PRESETS, planMemory, type RunShape } from '../src/memory/index.ts';
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
const N = Number(arg('--examples', '640'));
const OUT = resolve(arg('--out', join(ROOT, 'bench/results')));

const FSDP = process.argv.includes('--fsdp');
const SETUPS = [
  { name: '1 process × 2 threads', overrides: ['distributed.nproc_per_node=1'], threads: 2 },
  { name: '2 ranks × 1 thread (gloo, ddp)', overrides: ['distributed.nproc_per_node=2'], threads: 1 },
  {
    name: '2 ranks × 1 thread (gloo, zero1)',
    overrides: ['distributed.nproc_per_node=2', 'distributed.strategy=zero1'],
    threads: 1,
  },
  ...(FSDP
    ? [
        {
          name: '2 ranks × 1 thread (gloo, fsdp)',
          overrides: ['distributed.nproc_per_node=2', 'distributed.strategy=fsdp'],
          threads: 1,
        },
      ]
    : []),
];
const MiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** Examples/s between the first and the last step event (start-up, the first step and evaluation excluded). */
function figures(run: string) {
  const steps = stepEvents(run);
  const timed = steps.slice(1);
  const wall = (Date.parse(steps.at(-1)!.time) - Date.parse(steps[0].time)) / 1000;
  const examples = timed.reduce((a, e) => a + e.examples, 0);
  return {
    steps: steps.length,
    examples_per_s: examples / wall,
    wall_s: wall,
    last_loss: steps.at(-1)!.loss,
    // Each rank's peak RSS over the steps (one process: its own).
    peak_rss_bytes: steps
      .map((e) => e.rank_memory ?? [e.memory])
      .reduce(
        (acc: number[], ranks) => ranks.map((m, r) => Math.max(acc[r] ?? 0, m.peak_rss_bytes ?? 0)),
        [],
      ),
  };
}

/** The planner's per-rank breakdown for bert-mini, fp32, 2 ranks. */
function plannedRank(strategy: 'ddp' | 'zero1' | 'fsdp') {
  const run: RunShape = {
    engine: 'refit',
    mode: 'train',
    batch_size: 8,
    seq_len: 128,
    precision: 'fp32',
    attention: 'eager',
    grad_checkpointing: false,
    optimizer: 'adamw',
    num_labels: 10,
    ranks: 2,
    strategy,
  };
  return planMemory({ model: PRESETS['bert-mini'], run }).per_rank!;
}
/** What a rank holds for the model between steps: weights, gradients, optimizer states. */
const states = (p: ReturnType<typeof plannedRank>) => p.weights + p.gradients + p.optimizer;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'refit-bench-dist-'));
  let data: string[];
  if (existsSync(join(SHARED, 'deepke-re-standard/train.csv'))) {
    const train = (await readDataset({ path: join(SHARED, 'deepke-re-standard/train.csv') })).examples.slice(
      0,
      N,
    );
    writeFileSync(join(dir, 'train.csv'), toDeepkeCsv(train));
    data = [
      `data.relations=${join(SHARED, 'deepke-re-standard/relation.csv')}`,
      `model.vocab=${join(SHARED, 'bert-vocab/google_zh_vocab.txt')}`,
    ];
  } else {
    const ds = generateDemoDataset({ seed: 3, train: N, valid: 0, test: 0 });
    writeFileSync(join(dir, 'train.csv'), toDeepkeCsv(ds.train));
    writeFileSync(join(dir, 'relation.csv'), toRelationCsv(ds.relations));
    writeFileSync(join(dir, 'vocab.txt'), ds.vocab_lines.join('\n') + '\n');
    data = [`data.relations=${join(dir, 'relation.csv')}`, `model.vocab=${join(dir, 'vocab.txt')}`];
  }
  const rows: string[] = [];
  const results: Record<string, ReturnType<typeof figures>> = {};
  for (const s of SETUPS) {
    const config = resolveConfig({
      overrides: [
        `data.train=${join(dir, 'train.csv')}`,
        ...data,
        'model.preset=bert-mini',
        'model.dropout=0',
        'train.epochs=1',
        'train.batch_size=32',
        'memory.max_seq_len=128',
        'device=cpu',
        'export.onnx=false',
        ...s.overrides,
      ],
    });
    const out = join(dir, s.name.replace(/\W+/g, '-'));
    process.stderr.write(`${s.name}: training ${N} examples…\n`);
    await runTraining({
      config,
      out,
      env: { ...process.env, REFIT_CACHE: join(dir, 'cache') },
      num_threads: s.threads,
    });
    results[s.name] = figures(out);
    const f = results[s.name];
    process.stderr.write(`${s.name}: ${f.examples_per_s.toFixed(1)} examples/s\n`);
    rows.push(
      `| ${s.name} | ${f.steps} | ${f.examples_per_s.toFixed(1)} | ${f.wall_s.toFixed(1)} | ` +
        `${f.last_loss.toFixed(6)} | ${f.peak_rss_bytes.map(MiB).join(' / ')} |`,
    );
  }
  const [one, two] = SETUPS.map((s) => results[s.name].examples_per_s);
  const [ddpRss, zeroRss] = [SETUPS[1], SETUPS[2]].map((s) => results[s.name].peak_rss_bytes);
  const planned = plannedRank('ddp').optimizer - plannedRank('zero1').optimizer;
  /** Rank by rank, how far `other` peaked below (or above) ddp. */
  const against = (other: number[]) =>
    ddpRss
      .map((b, r) => `rank ${r} ${b >= other[r] ? `${MiB(b - other[r])} less` : `${MiB(other[r] - b)} more`}`)
      .join(', ');
  const saving = against(zeroRss);
  const fsdpRss = FSDP ? results[SETUPS[3].name].peak_rss_bytes : [];
  const fsdpPlan = plannedRank('fsdp');
  const fsdpSaving = FSDP ? against(fsdpRss) : '';
  const { torch_version, python } = await findPython({ env: process.env });
  const blas = workerBlas(python, process.env);
  const verdict =
    two > one
      ? `2 ranks × 1 thread is ${(two / one).toFixed(2)}× the throughput of 1 process × 2 threads`
      : `1 process × 2 threads is ${(one / two).toFixed(2)}× the throughput of 2 ranks × 1 thread`;
  const md = [
    `# Training on CPU: 2 ranks × 1 thread vs 1 process × 2 threads (${new Date().toISOString().slice(0, 10)})`,
    '',
    `torch ${torch_version} on ${blas}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), bert-mini, ${N} examples, batch 32, max_seq_len 128, dropout 0, fp32, one epoch; ` +
      'examples/s between the first and the last step (start-up and the first step excluded). All runs in one invocation of ' +
      `\`node --import tsx bench/train-distributed.ts ${process.argv.slice(2).join(' ')}\``.trimEnd() +
      '.',
    `Load average at the end: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(', ')} (other processes on the same cores depress and add noise to every figure).`,
    '',
    '| setup | steps | examples/s | wall s | last step loss | peak RSS (rank 0 / rank 1) |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `**${verdict}.**`,
    'The last losses agree (same seed, same effective batch, the loss normalised per global batch): the ranks train the same model.',
    '',
    `zero1 against ddp, peak RSS per rank: ${saving}; the planner's optimizer term per rank is ` +
      `${MiB(planned)} less (AdamW's states ÷ 2). Rank 0 gathers the whole optimizer state when a checkpoint is ` +
      'saved (consolidate_state_dict), so its peak can keep the ddp figure; the other ranks show the saving.',
    '',
    ...(FSDP
      ? [
          `fsdp against ddp, peak RSS per rank: ${fsdpSaving}; the planner's weights + gradients + optimizer ` +
            `states per rank are ${MiB(states(plannedRank('ddp')) - states(fsdpPlan))} less (all ÷ 2), and it adds ` +
            `${MiB(fsdpPlan.fsdp_gathered + fsdpPlan.fsdp_prefetch)} for the gathered and prefetched units (fp32). ` +
            'Peak RSS is a high-water mark: every rank builds the whole model on the host before sharding it, ' +
            "rank 0 gathers the whole states to save them, and FSDP's gathers and reduce-scatters add buffers " +
            "of their own, so on CPU the planner's per-rank saving does not show in the peaks; a GPU's " +
            'allocator peaks (bench/gpu-check part d) are where it is checked.',
          '',
        ]
      : []),
  ].join('\n');
  mkdirSync(OUT, { recursive: true });
  const name = FSDP
    ? `train-distributed-cpu-torch${torch_version.split('+')[0]}.md`
    : 'train-distributed-cpu.md';
  writeFileSync(join(OUT, name), md);
  process.stdout.write(md);
}

await main();
