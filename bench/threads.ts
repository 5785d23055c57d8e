// Threads by measurement (issue 20): training ms/step by model size (bert-tiny, bert-mini, bert-base) × intra-op threads
// 1..cores in one process, and cores ranks × 1 thread; then onnxruntime ms per batch (batch 32 as predict runs it, batch
// 1 as serve sees single sentences) × intra-op 1..cores × inter-op 1 or 2, on each size's exported model. Setups
// alternate within each round, so a burst of load from other jobs hits every setup alike; ratios are within one run.
// Run: node --import tsx bench/threads.ts [--sizes bert-tiny,bert-mini,bert-base] [--rounds 2] [--out FILE]
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveConfig } from '../src/config/index.ts';
import { readDataset, type Example } from '../src/data/index.ts';
import { toDeepkeCsv } from '../src/demo/index.ts';
import { encodeForHead, type EncodedExample } from '../src/encode/index.ts';
import { exportRun, openOnnxSession, ONNX_FILE } from '../src/infer/index.ts';
import { RunLog } from '../src/log.ts';
import { readModelFolder } from '../src/session/index.ts';
import { runTraining } from '../src/run/index.ts';
import { findPython } from '../src/worker/index.ts';
import { workerBlas } from './blas.ts';
import { stepEvents } from './run-events.ts';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: 'bert-tiny,bert-mini,bert-base' },
    rounds: { type: 'string', default: '2' },
    out: { type: 'string', default: 'bench/results/threads.md' },
  },
});
const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SHARED = resolve(ROOT, '../shared/assets');
const CORES = availableParallelism();
const ROUNDS = Number(opts.rounds);
/** Examples and batch per size: a few timed steps each, so bert-base stays within minutes on 2 cores. */
const SIZE_RUN: Record<string, { examples: number; batch: number; ort_rows: number }> = {
  'bert-tiny': { examples: 160, batch: 16, ort_rows: 128 },
  'bert-mini': { examples: 112, batch: 16, ort_rows: 128 },
  'bert-base': { examples: 24, batch: 8, ort_rows: 64 },
};
const sizes = opts.sizes!.split(',');

interface TrainSetup {
  name: string;
  threads: number;
  ranks: number;
}
const TRAIN_SETUPS: TrainSetup[] = [
  ...Array.from({ length: CORES }, (_, i) => ({
    name: `1 process × ${i + 1} thread(s)`,
    threads: i + 1,
    ranks: 1,
  })),
  ...(CORES > 1 ? [{ name: `${CORES} ranks × 1 thread`, threads: 1, ranks: CORES }] : []),
];

/** Wall ms per optimizer step between the first and the last step event (start-up and the first step excluded). */
function msPerStep(run: string): number {
  const steps = stepEvents(run);
  return (Date.parse(steps.at(-1)!.time) - Date.parse(steps[0].time)) / (steps.length - 1);
}

async function trainRound(
  dir: string,
  size: string,
  round: number,
  data: string[],
  times: Map<string, number[]>,
): Promise<string | undefined> {
  let exported: string | undefined;
  for (const s of TRAIN_SETUPS) {
    const out = join(dir, `${size}-${s.name.replace(/\W+/g, '-')}-${round}`);
    const first = round === 0 && s === TRAIN_SETUPS[0];
    const config = resolveConfig({
      overrides: [
        ...data,
        `model.preset=${size}`,
        'train.epochs=1',
        `train.batch_size=${SIZE_RUN[size].batch}`,
        'memory.max_seq_len=128',
        'device=cpu',
        `distributed.nproc_per_node=${s.ranks}`,
        `export.onnx=${first}`,
      ],
    });
    const env = { ...process.env, REFIT_CACHE: join(dir, 'cache') };
    await runTraining({ config, out, env, num_threads: s.threads });
    // the command layer exports after training (refit train does); here the first run is exported for the ONNX rows
    if (first) {
      await exportRun({ run_dir: out, env, log: new RunLog(join(out, 'export.log')) });
      exported = out;
    }
    const ms = msPerStep(out);
    times.set(s.name, [...(times.get(s.name) ?? []), ms]);
    process.stderr.write(`${size} round ${round + 1}: ${s.name}: ${ms.toFixed(0)} ms/step\n`);
  }
  return exported;
}

/** onnxruntime ms per batch of `batch` rows (rows sorted by length, one warm-up batch first). */
async function ortMs(path: string, rows: EncodedExample[], batch: number, intra: number, inter: number) {
  const session = await openOnnxSession({ path, threads: intra, inter_op_threads: inter });
  const sorted = [...rows].sort((a, b) => a.ids.length - b.ids.length);
  const len = (part: EncodedExample[]) => Math.max(...part.map((r) => r.ids.length));
  await session.logits(sorted.slice(0, batch), len(sorted.slice(0, batch)));
  const t0 = performance.now();
  let n = 0;
  for (let i = 0; i < sorted.length; i += batch, n++) {
    const part = sorted.slice(i, i + batch);
    await session.logits(part, len(part));
  }
  await session.close();
  return (performance.now() - t0) / n;
}

const ORT_SETUPS = Array.from({ length: CORES }, (_, i) => i + 1).flatMap((intra) =>
  [1, 2].map((inter) => ({ name: `intra ${intra}, inter ${inter}`, intra, inter })),
);

async function ortRounds(run: string, examples: Example[]) {
  const model = readModelFolder(run);
  const enc = {
    tokenizer: model.text.tokenizer,
    max_seq_len: model.refit.max_seq_len,
    markers: model.text.markers,
    deepke_lm: model.text.deepke_lm,
  };
  const rows = examples.map((example) =>
    encodeForHead({ ...enc, example: { ...example, relation: undefined } }),
  );
  const times = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++)
    for (const [batch, n] of [
      [32, examples.length],
      [1, examples.length / 4],
    ])
      for (const s of ORT_SETUPS) {
        const ms = await ortMs(join(model.dir, ONNX_FILE), rows.slice(0, n), batch, s.intra, s.inter);
        const key = `batch ${batch}, ${s.name}`;
        times.set(key, [...(times.get(key) ?? []), ms]);
      }
  return times;
}

/** A table row per setup: every round's figure, the best, and speed against the group's first row (same batch). */
function table(title: string, unit: string, times: Map<string, number[]>): string[] {
  const best = (k: string) => Math.min(...times.get(k)!);
  const group = (k: string) => (k.includes(',') ? k.split(',')[0] : '');
  const keys = [...times.keys()];
  return [
    `| ${title} | ${unit} per round | best | speed vs the first row of its group |`,
    '|---|---|---|---|',
    ...keys.map((k) => {
      const ref = keys.find((r) => group(r) === group(k))!;
      const rounds = times
        .get(k)!
        .map((t) => t.toFixed(1))
        .join(' / ');
      return `| ${k} | ${rounds} | ${best(k).toFixed(1)} | ${(best(ref) / best(k)).toFixed(2)}× |`;
    }),
  ];
}

/** Writes the results so far (after each size: a run cut short keeps the sizes it finished). */
async function write(lines: string[], load0: number[]): Promise<void> {
  const python = await findPython({ env: process.env });
  const blas = workerBlas(python.python, process.env);
  const cmd = `node --import tsx bench/threads.ts --sizes ${opts.sizes} --rounds ${ROUNDS}`;
  const md = [
    `# Threads by measurement: ${CORES} × ${cpus()[0]?.model} (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Command: \`${cmd}\`. torch ${python.torch_version} on ${blas}.`,
    `Load average at the start ${load0.map((l) => l.toFixed(1)).join(', ')}, at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ', ',
      )}: the machine is shared with other jobs, so single figures are noisy; compare rows within a`,
    'table, and the best of the rounds.',
    '',
    ...lines,
  ].join('\n');
  writeFileSync(opts.out!, md);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'refit-bench-threads-'));
  const all = (await readDataset({ path: join(SHARED, 'deepke-re-standard/train.csv') })).examples;
  const load0 = loadavg();
  const lines: string[] = [];
  for (const size of sizes) {
    writeFileSync(join(dir, `${size}.csv`), toDeepkeCsv(all.slice(0, SIZE_RUN[size].examples)));
    const data = [
      `data.train=${join(dir, `${size}.csv`)}`,
      `data.relations=${join(SHARED, 'deepke-re-standard/relation.csv')}`,
      `model.vocab=${join(SHARED, 'bert-vocab/google_zh_vocab.txt')}`,
    ];
    const times = new Map<string, number[]>();
    let exported: string | undefined;
    for (let round = 0; round < ROUNDS; round++)
      exported = (await trainRound(dir, size, round, data, times)) ?? exported;
    const { examples, batch, ort_rows } = SIZE_RUN[size];
    const ort = await ortRounds(exported!, all.slice(0, ort_rows));
    lines.push(
      `## ${size}`,
      '',
      `Training: ${examples} examples, batch ${batch}, max_seq_len 128, fp32, one epoch; ms per step between the first`,
      'and the last step event (start-up and the first step excluded). Lower is better.',
      '',
      ...table('training setup', 'ms/step', times),
      '',
      `onnxruntime (model.onnx of the 1-thread run): ms per batch; batch 32 over ${ort_rows} rows (predict), batch 1`,
      `over ${ort_rows / 4} rows (serve, one sentence per request); inter 2 runs the graph in parallel mode.`,
      '',
      ...table('onnxruntime setup', 'ms/batch', ort),
      '',
    );
    await write(lines, load0);
  }
  process.stdout.write(readFileSync(opts.out!, 'utf8'));
}

await main();
