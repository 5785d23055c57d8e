// `refit fit --gpu NAME|SIZE`: the fastest configuration that fits the card with a margin, keeping
// micro-batch × accumulation = the effective batch. Search lives in src/memory/fit.ts; this prints/writes.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { CliContext } from '../context.ts';
import { RefitError } from '../../errors.ts';
import { readEncodedDataset } from '../../encode/index.ts';
import { fitConfig, formatBytes, type Attention, type FitAllow, type FitCandidate, type FitResult, type Precision } from '../../memory/index.ts';
import { configFromInputs, enumOption, gpuFromInputs, headShape, intOption, memoryOptions, modelFromInputs, type MemoryFlags } from './plan.ts';

interface FitFlags extends MemoryFlags { effectiveBatch?: string; margin?: string; lengthsFrom?: string; write?: string; precisions?: string; attentions?: string }

function listOption<T extends string>(flag: string, text: string | undefined, values: readonly T[]): T[] | undefined {
  return text === undefined ? undefined : text.split(',').map((v) => enumOption(flag, v.trim(), values)!);
}

/** Example lengths: an encoded dataset (`*.refit-ds`), or integers one per line (whitespace/comma separated) or a JSON array. */
export function readLengths(path: string): ArrayLike<number> {
  let bytes: Buffer;
  try { bytes = readFileSync(path); } catch (e) {
    throw new RefitError('E_OPTION', `${path}: cannot read lengths (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (bytes.subarray(0, 8).toString('latin1') === 'REFITDS1') return readEncodedDataset(path).lengths;
  const text = bytes.toString('utf8');
  let tokens: string[];
  try {
    tokens = text.trim().startsWith('[') ? (JSON.parse(text) as unknown[]).map(String) : text.split(/[\s,]+/).filter(Boolean);
  } catch {
    throw new RefitError('E_OPTION', `${path}: not a JSON array of lengths`);
  }
  const out: number[] = [];
  for (const [i, t] of tokens.entries()) {
    const v = Number(t);
    if (!Number.isInteger(v) || v <= 0) throw new RefitError('E_OPTION', `${path}: item ${i + 1} '${t}' is not a positive integer length`);
    out.push(v);
  }
  if (out.length === 0) throw new RefitError('E_OPTION', `${path}: no lengths found`);
  return out;
}

function allowFrom(flags: FitFlags): Partial<FitAllow> {
  const allow: Partial<FitAllow> = {};
  const p = listOption('--precision', flags.precisions, ['fp32', 'fp16', 'bf16'] as const);
  const a = listOption('--attention', flags.attentions, ['eager', 'sdpa'] as const);
  const c = enumOption('--grad-checkpointing', flags.gradCheckpointing, ['on', 'off', 'auto'] as const);
  if (p) allow.precision = p as Precision[];
  if (a) allow.attention = a as Attention[];
  if (c && c !== 'auto') allow.grad_checkpointing = [c === 'on'];
  return allow;
}

/** Registers `refit fit`. */
export function registerFit(program: Command, ctx: CliContext): void {
  memoryOptions(program.command('fit').description('find the fastest configuration that fits a GPU, keeping the effective batch'))
    .option('--effective-batch <n>', 'examples per optimizer step (micro-batch × accumulation); default train.batch_size')
    .option('--margin <fraction>', 'share of the card kept free (default 0.05)')
    .option('--precision <list>', 'precisions to consider, e.g. fp32,bf16 (default: all the card supports)')
    .option('--attention <list>', 'attention backends to consider (default eager,sdpa)')
    .option('--grad-checkpointing <on|off|auto>', 'force checkpointing on/off (default auto)')
    .option('--lengths-from <file>', 'example lengths for the dynamic-padding policy: an encoded dataset (.refit-ds) or integers')
    .option('--write <file>', 'write the chosen settings as a config file (YAML)')
    .action((overrides: string[], flags: FitFlags & { precision?: string; attention?: string }) => {
      flags.precisions = flags.precision; flags.attentions = flags.attention;
      delete flags.precision; delete flags.attention;
      if (!flags.gpu) throw new RefitError('E_OPTION', 'refit fit: give the card with --gpu NAME|SIZE (e.g. --gpu "RTX 3060" or --gpu 12GB)');
      const cfg = configFromInputs(flags, overrides, ctx);
      const model = modelFromInputs(flags, cfg);
      const gpu = gpuFromInputs(flags, cfg)!;
      const margin = flags.margin === undefined ? undefined : Number(flags.margin);
      if (margin !== undefined && !(margin >= 0 && margin < 1)) throw new RefitError('E_OPTION', `--margin: expected a fraction from 0 to 1 (e.g. 0.05), got '${flags.margin}'`);
      const result = fitConfig({
        model, gpu, margin, allow: allowFrom(flags),
        effective_batch: intOption('--effective-batch', flags.effectiveBatch) ?? cfg.train.batch_size,
        seq_len: intOption('--seq-len', flags.seqLen) ?? cfg.memory.max_seq_len,
        engine: enumOption('--engine', flags.engine, ['refit', 'hf'] as const) ?? 'refit',
        // the head stays as configured (DeepKE's model_name: lm is the deepke-lm head with its RNN)
        shape: headShape(enumOption('--head', flags.head, ['entity-start', 'cls', 'deepke-lm'] as const) ?? cfg.model.head, cfg),
        num_labels: intOption('--num-labels', flags.numLabels) ?? cfg.data.num_relations ?? 50,
        lengths: flags.lengthsFrom ? Array.from(readLengths(flags.lengthsFrom)) : undefined,
      });
      if (flags.write) writeSettings(flags.write, result, flags.model ?? cfg.model.pretrained ?? cfg.model.preset);
      ctx.io.stdout.write(flags.json ? JSON.stringify(result, null, 2) + '\n' : formatFit(result));
    });
}

/** Writes the chosen configuration as a refit config (memory: manual, the levers; train.batch_size), atomically. */
function writeSettings(path: string, r: FitResult, model: string | undefined): void {
  const c = r.config;
  const doc: Record<string, unknown> = {
    ...(model ? { model: { [model.startsWith('bert-') ? 'preset' : 'pretrained']: model } } : {}),
    train: { batch_size: r.effective_batch },
    memory: {
      mode: 'manual', micro_batch_size: c.micro_batch_size, grad_accumulation: c.grad_accumulation, precision: c.precision,
      attention: c.attention, grad_checkpointing: c.grad_checkpointing, max_seq_len: c.seq_len, padding: c.padding,
    },
  };
  const text = `# written by refit fit for ${r.gpu}: predicted peak ${formatBytes(r.peak_device_bytes)} of ${formatBytes(r.budget_bytes)}\n${stringify(doc)}`;
  try {
    writeFileSync(path + '.tmp', text);
    renameSync(path + '.tmp', path);
  } catch (e) {
    throw new RefitError('E_WRITE', `${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

function row(mark: string, c: FitCandidate): string {
  const k = c.config;
  return `${mark} ${String(k.micro_batch_size).padStart(5)} ${String(k.grad_accumulation).padStart(5)}  ${k.precision.padEnd(5)} ${k.attention.padEnd(6)} ${(k.grad_checkpointing ? 'on' : 'off').padEnd(5)}`
    + `${formatBytes(c.peak_device_bytes).padStart(12)} ${c.predicted_examples_per_s.toFixed(1).padStart(10)}`;
}

/** The text report of a fit: the chosen configuration, the runners-up and a one-line verdict. */
export function formatFit(r: FitResult): string {
  const c = r.config;
  const lines = [`${r.gpu}: budget ${formatBytes(r.budget_bytes)} (after the safety margin), effective batch ${r.effective_batch}, seq ${c.seq_len} (${c.padding} padding)`,
    `  micro accum  prec  attn   ckpt  peak device  examples/s`, row('*', r), ...r.alternatives.map((a) => row(' ', a))];
  const how = `micro-batch ${c.micro_batch_size} × ${c.grad_accumulation} accumulation, ${c.precision}, ${c.attention}, checkpointing ${c.grad_checkpointing ? 'on' : 'off'}`;
  lines.push(r.fits
    ? `verdict: ${how}: ${formatBytes(r.peak_device_bytes)} of ${formatBytes(r.budget_bytes)}, ~${r.predicted_examples_per_s.toFixed(0)} examples/s`
    : `verdict: nothing fits ${r.gpu}; the smallest (${how}) needs ${formatBytes(r.peak_device_bytes)}; use a shorter --seq-len or a smaller model`);
  return lines.join('\n') + '\n';
}
