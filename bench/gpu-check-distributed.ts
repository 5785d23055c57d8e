// The distributed part of the GPU check (issue 12), for the next time a GPU machine is lent: one process against
// N ranks (ddp, zero1) on every visible GPU, same data, seed and effective batch, dropout 0: examples/s, rank 0's peak
// memory, and the per-step losses compared. On one GPU it runs the plain baseline and says that the multi-GPU rows
// need two; without CUDA (or with --quick) a CPU dry run with 2 gloo ranks checks the script itself.
// Run: node --import tsx bench/gpu-check-distributed.ts [--out DIR] [--quick] [--examples N]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveConfig } from '../src/config/index.ts';
import { generateDemoDataset, toDeepkeCsv, toRelationCsv } from '../src/demo/index.ts';
import { runTraining } from '../src/run/index.ts';
import { findPython } from '../src/worker/index.ts';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const QUICK = process.argv.includes('--quick');
const OUT = resolve(
  arg('--out', join(ROOT, 'bench/results', `gpu-check-distributed-${new Date().toISOString().slice(0, 10)}`)),
);

interface Row {
  setup: string;
  ranks: number;
  strategy: string;
  steps: number;
  examples_per_s: number;
  peak_rank0_bytes: number;
  max_rel_loss_diff: number | null;
  error?: string;
}

function stepsOf(run: string): Array<Record<string, any>> {
  return readFileSync(join(run, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((e) => e.event === 'step');
}

async function main(): Promise<void> {
  const { python } = await findPython({ env: process.env });
  const gpus = Number(
    execFileSync(
      python,
      ['-c', 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)'],
      { encoding: 'utf8' },
    ).trim(),
  );
  const cuda = gpus > 0 && !QUICK;
  const n = Number(arg('--examples', cuda ? '2048' : '128'));
  const dir = mkdtempSync(join(tmpdir(), 'refit-gpu-check-dist-'));
  const ds = generateDemoDataset({ seed: 5, train: n, valid: 0, test: 0 });
  writeFileSync(join(dir, 'train.csv'), toDeepkeCsv(ds.train));
  writeFileSync(join(dir, 'relation.csv'), toRelationCsv(ds.relations));
  writeFileSync(join(dir, 'vocab.txt'), ds.vocab_lines.join('\n') + '\n');
  const world = cuda ? gpus : 2;
  const base = [
    `data.train=${join(dir, 'train.csv')}`,
    `data.relations=${join(dir, 'relation.csv')}`,
    `model.vocab=${join(dir, 'vocab.txt')}`,
    `model.preset=${cuda ? 'bert-base' : 'bert-tiny'}`,
    'model.dropout=0',
    'train.epochs=1',
    `train.batch_size=${cuda ? 64 : 16}`,
    'memory.max_seq_len=128',
    'memory.mode=manual',
    `memory.precision=${cuda ? 'bf16' : 'fp32'}`,
    `device=${cuda ? 'cuda' : 'cpu'}`,
    'export.onnx=false',
  ];
  const micro = cuda ? 16 : 4;
  const setups = [
    { setup: 'plain, 1 process', ranks: 1, strategy: '-', extra: [`memory.micro_batch_size=${micro}`] },
    ...(world >= 2
      ? (['ddp', 'zero1'] as const).map((s) => ({
          setup: `${s}, ${world} ranks (${cuda ? 'nccl' : 'gloo'})`,
          ranks: world,
          strategy: s,
          extra: [
            `distributed.nproc_per_node=${world}`,
            `distributed.strategy=${s}`,
            `memory.micro_batch_size=${Math.max(1, micro / world)}`,
          ],
        }))
      : []),
  ];
  const rows: Row[] = [];
  let reference: number[] | undefined;
  for (const s of setups) {
    const out = join(dir, s.setup.replace(/\W+/g, '-'));
    process.stderr.write(`${s.setup}…\n`);
    try {
      await runTraining({
        config: resolveConfig({ overrides: [...base, ...s.extra] }),
        out,
        env: { ...process.env, REFIT_CACHE: join(dir, 'cache') },
        num_threads: cuda ? undefined : 1,
      });
      const steps = stepsOf(out);
      const wall = (Date.parse(steps.at(-1)!.time) - Date.parse(steps[0].time)) / 1000;
      const examples = steps.slice(1).reduce((a, e) => a + e.examples, 0);
      const losses = steps.map((e) => e.loss as number);
      reference ??= losses;
      const diff =
        s.ranks > 1
          ? Math.max(
              ...losses.map((x, i) => Math.abs(x - reference![i]) / Math.max(1e-6, Math.abs(reference![i]))),
            )
          : null;
      const peak = Math.max(
        ...steps.map((e) => (cuda ? e.memory.max_memory_reserved : e.memory.peak_rss_bytes) ?? 0),
      );
      rows.push({
        setup: s.setup,
        ranks: s.ranks,
        strategy: s.strategy,
        steps: steps.length,
        examples_per_s: examples / wall,
        peak_rank0_bytes: peak,
        max_rel_loss_diff: diff,
      });
    } catch (e) {
      rows.push({
        setup: s.setup,
        ranks: s.ranks,
        strategy: s.strategy,
        steps: 0,
        examples_per_s: 0,
        peak_rank0_bytes: 0,
        max_rel_loss_diff: null,
        error: (e as Error).message.split('\n')[0],
      });
    }
  }
  const md = [
    `# GPU check, distributed part (${new Date().toISOString().slice(0, 10)})`,
    '',
    cuda
      ? `${gpus} GPU(s), bert-base, bf16, batch 64 (effective), seq ≤ 128, ${n} generated examples, dropout 0.`
      : `CPU dry run (no CUDA or --quick): bert-tiny, 2 gloo ranks × 1 thread, ${n} examples.`,
    '',
    '| setup | steps | examples/s | peak (rank 0) | max relative loss difference vs plain |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.setup} | ${r.steps} | ${r.examples_per_s.toFixed(1)} | ${(r.peak_rank0_bytes / 2 ** 20).toFixed(0)} MiB | ${r.error ? `error: ${r.error}` : r.max_rel_loss_diff === null ? '—' : r.max_rel_loss_diff.toExponential(2)} |`,
    ),
    '',
    world < 2 ? 'One GPU: the multi-GPU rows need two or more (NCCL takes one GPU per rank).' : '',
    '',
  ].join('\n');
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'gpu-check-distributed.md'), md);
  writeFileSync(
    join(OUT, 'gpu-check-distributed.json'),
    JSON.stringify({ gpus, cuda, rows }, null, 2) + '\n',
  );
  process.stdout.write(md);
}

await main();
