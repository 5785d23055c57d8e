// Accuracy report of the memory planner against ../shared/golden/memory: per-row error table of the hf profile
// (train peak and inference peak), medians/maxima, leave-one-model-out, reserved, the 12 GB rows and the cost
// model vs measured step times. Writes bench/results/memory-accuracy.md. Run: npx tsx bench/memory-accuracy.ts
import { renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { GPUS, loadModelDims, microBatchMs, planMemory, type RunShape } from '../src/memory/index.ts';
import { accuracy, goldenRun, leaveOneModelOut, median, type AccuracyRow } from '../src/memory/calibrate.ts';
import { loadGolden } from '../src/memory/golden.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GOLDEN = resolve(ROOT, '../shared/golden/memory');
const OUT = resolve(ROOT, 'bench/results/memory-accuracy.md');
const H200 = GPUS['H200'];
const MIB = 2 ** 20;

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
const stat = (errs: number[]) => ({
  n: errs.length,
  median: median(errs.map(Math.abs)),
  max: Math.max(...errs.map(Math.abs)),
});
const line = (name: string, errs: number[]) => {
  const s = stat(errs);
  return `| ${name} | ${s.n} | ${pct(s.median)} | ${pct(s.max)} |`;
};

function errorTable(rows: AccuracyRow[]): string[] {
  const out = [
    '| model | attn | prec | ckpt | batch | seq | mode | measured MiB | predicted MiB | error |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const g = r.row;
    out.push(
      `| ${g.model} | ${g.attn} | ${g.prec} | ${g.ckpt} | ${g.batch} | ${g.seq} | ${r.mode} | ${(r.measured / MIB).toFixed(1)} | ${(r.predicted / MIB).toFixed(1)} | ${(100 * r.rel_err).toFixed(2)} % |`,
    );
  }
  return out;
}

function main(): void {
  const { samples, other } = loadGolden(GOLDEN);
  const rows = accuracy(samples, H200);
  const lomo = leaveOneModelOut(samples, H200);
  const md: string[] = [
    '# Memory planner accuracy (hf profile vs H200 measurements)',
    '',
    'Command: `npx tsx bench/memory-accuracy.ts` (coefficients from `npx tsx bench/memory-calibrate.ts --write`).',
    'Data: `../shared/golden/memory/h200-hf-bert-public.jsonl` (public rows; held-back rows are checked elsewhere).',
    'Error = (predicted − measured) / measured of `torch.cuda.max_memory_allocated()`.',
    '',
    '## Summary',
    '',
    '| set | rows | median abs error | max abs error |',
    '|---|---|---|---|',
    line(
      'train peak_alloc',
      rows.filter((r) => r.mode === 'train').map((r) => r.rel_err),
    ),
    line(
      'infer_peak_alloc',
      rows.filter((r) => r.mode === 'infer').map((r) => r.rel_err),
    ),
    line(
      'all',
      rows.map((r) => r.rel_err),
    ),
    '',
    '## Leave-one-model-out (fit on two models, predict the third)',
    '',
    '| held out | rows | median abs error | max abs error |',
    '|---|---|---|---|',
    ...[...new Set(lomo.map((r) => r.row.model))].map((m) =>
      line(
        m,
        lomo.filter((r) => r.row.model === m).map((r) => r.rel_err),
      ),
    ),
    ...[...new Set(lomo.map((r) => r.row.model))].map((m) =>
      line(
        `${m}, without fp16 inference`,
        lomo
          .filter((r) => r.row.model === m && !(r.mode === 'infer' && r.row.prec === 'fp16'))
          .map((r) => r.rel_err),
      ),
    ),
    '',
    'fp16 inference was measured only on base: holding base out leaves no fp16 rows to fit (its fp16 eager rows then borrow bf16 and miss by ~20 %).',
    '',
  ];
  const reserved = samples.map(({ row, model }) => {
    const p = planMemory({ model, run: goldenRun(row, 'train'), gpu: H200 });
    return (p.peak_reserved_bytes - row.peak_reserved) / row.peak_reserved;
  });
  md.push(
    '## Reserved and device',
    '',
    '| quantity | rows | median abs error | max abs error |',
    '|---|---|---|---|',
    line('peak_reserved (factor × allocated + bytes)', reserved),
    '',
    `CUDA context + libraries (nonpytorch) taken as the measured median; device = reserved + context.`,
    '',
  );
  md.push(...capRows(other), ...costRows(samples, other), '## Every row', '', ...errorTable(rows), '');
  writeFileSync(OUT + '.tmp', md.join('\n'));
  renameSync(OUT + '.tmp', OUT);
  console.log(md.slice(0, 20).join('\n'));
}

function baseRun(r: Record<string, unknown>, batch = r.batch as number, seq = r.seq as number): RunShape {
  return {
    engine: 'hf',
    mode: 'train',
    batch_size: batch,
    seq_len: seq,
    precision: r.prec as 'fp32',
    attention: r.attn as 'eager',
    grad_checkpointing: r.ckpt === 1,
    optimizer: 'adamw',
    num_labels: 50,
  };
}

function capRows(other: Array<Record<string, unknown>>): string[] {
  const model = loadModelDims(resolve(GOLDEN, 'configs/base.json'));
  const out = [
    '## The 12 GB scenario (cap12: 11.75 GiB per-process cap on the H200)',
    '',
    '| prec | attn | ckpt | batch | seq | measured | predicted allocated | predicted reserved | ran? |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of other.filter((x) => x.kind === 'cap12')) {
    const p = planMemory({ model, run: baseRun(r), gpu: H200 });
    const meas = r.ok ? `${((r.peak_alloc as number) / 2 ** 30).toFixed(2)} GiB` : 'OOM';
    out.push(
      `| ${r.prec} | ${r.attn} | ${r.ckpt} | ${r.batch} | ${r.seq} | ${meas} | ${(p.peak_allocated_bytes / 2 ** 30).toFixed(2)} GiB | ${(p.peak_reserved_bytes / 2 ** 30).toFixed(2)} GiB | ${r.ok ? 'yes' : 'no (cap 11.75 GiB)'} |`,
    );
  }
  return [...out, ''];
}

function costRows(
  samples: ReturnType<typeof loadGolden>['samples'],
  other: Array<Record<string, unknown>>,
): string[] {
  const timed = samples.filter((s) => s.row.step_ms);
  const errs = timed.map(
    (s) => (microBatchMs(s.model, goldenRun(s.row, 'train'), H200) - s.row.step_ms!) / s.row.step_ms!,
  );
  const model = loadModelDims(resolve(GOLDEN, 'configs/base.json'));
  const out = [
    '## Cost model (step time) vs measured',
    '',
    '| set | rows | median abs error | max abs error |',
    '|---|---|---|---|',
    line('train rows with step_ms (H200)', errs),
    '',
    '| throughput row (batch 32, padded to 512) | measured sentences/s | predicted |',
    '|---|---|---|',
  ];
  const variants: Record<string, [string, string]> = {
    deepke_like_fp32_eager_pad512: ['fp32', 'eager'],
    fp32_sdpa_pad512: ['fp32', 'sdpa'],
    bf16_sdpa_pad512: ['bf16', 'sdpa'],
  };
  for (const r of other.filter((x) => x.kind === 'throughput' && (x.variant as string) in variants)) {
    const [prec, attn] = variants[r.variant as string];
    const ms = microBatchMs(model, baseRun({ prec, attn, ckpt: 0 }, 32, 512), H200);
    out.push(
      `| ${r.variant} | ${(r.sentences_per_s as number).toFixed(1)} | ${((32 / ms) * 1e3).toFixed(1)} |`,
    );
  }
  // throughput rows with real-length batches: the measuring script's length distribution (lognormal(4.0, 0.55) + 6,
  // clipped to 12…510, mean ≈ 68) redrawn here with a seeded generator: same distribution, not the same draws
  const lens = chineseReLengths(4096);
  const sorted: Record<string, [string, string, number]> = {
    fp32_eager_sorted_buckets: ['fp32', 'eager', 1],
    bf16_sdpa_sorted_buckets: ['bf16', 'sdpa', 1],
    bf16_sdpa_sorted_mult64_nocudnn: ['bf16', 'sdpa', 64],
    bf16_eager_sorted_mult64: ['bf16', 'eager', 64],
  };
  out.push(
    '',
    '| throughput row (batch 32, length-sorted buckets) | measured sentences/s | predicted |',
    '|---|---|---|',
  );
  for (const r of other.filter((x) => (x.variant as string) in sorted)) {
    const [prec, attn, mult] = sorted[r.variant as string];
    const per = sortedPadded(lens, 32, mult);
    const ms = microBatchMs(model, baseRun({ prec, attn, ckpt: 0 }, 32, Math.round(per)), H200, 32 * per);
    out.push(
      `| ${r.variant} | ${(r.sentences_per_s as number).toFixed(1)} | ${((32 / ms) * 1e3).toFixed(1)} |`,
    );
  }
  out.push(
    '',
    'The cost model only ranks configurations: on the H200 small steps are launch-bound (a per-layer floor), large fp32 steps compute-bound.',
    '',
  );
  return out;
}

function chineseReLengths(n: number): number[] {
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) + 0.5) / 2 ** 31;
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
    return Math.max(12, Math.min(Math.floor(Math.exp(4.0 + 0.55 * z)) + 6, 510));
  });
}

function sortedPadded(lens: number[], batch: number, multiple: number): number {
  const s = [...lens].sort((a, b) => a - b);
  let tokens = 0;
  for (let i = 0; i < s.length; i += batch)
    tokens +=
      Math.min(s.length - i, batch) * Math.ceil(s[Math.min(i + batch, s.length) - 1] / multiple) * multiple;
  return tokens / s.length;
}

main();
