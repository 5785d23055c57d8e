// `refit plan`: predicted peak memory of training or inference for a model + configuration (+ device).
// Resolves the run config (-c, key=value) and flags (flags win), calls planMemory, prints a table or JSON.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { RefitError } from '../../errors.ts';
import { resolveConfigDetailed, type ResolvedConfig, type RunConfig } from '../../config/index.ts';
import { formatBytes, loadModelDims, withLayers, planMemory, resolveGpu, parseSize, type GpuSpec, type MemoryPlan, type ModelDims, type RunShape } from '../../memory/index.ts';

/** Flags shared by `plan` and `fit` (commander camelCase names). */
export interface MemoryFlags {
  config?: string; engine?: string; model?: string; vocabSize?: string; batchSize?: string; seqLen?: string;
  precision?: string; attention?: string; gradCheckpointing?: string; optimizer?: string; numLabels?: string;
  mode?: string; gpu?: string; freezeLayers?: string; head?: string; json?: boolean;
}

/** A positive integer option value, or a one-line E_OPTION error naming the flag. */
export function intOption(flag: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < min) {
    throw new RefitError('E_OPTION', `${flag}: expected an integer ≥ ${min}, got '${text}'`);
  }
  return v;
}

/** One of `values`, or a one-line E_OPTION error listing them. */
export function enumOption<T extends string>(flag: string, text: string | undefined, values: readonly T[]): T | undefined {
  if (text === undefined) return undefined;
  if (!(values as readonly string[]).includes(text)) throw new RefitError('E_OPTION', `${flag}: expected one of ${values.join(', ')}, got '${text}'`);
  return text as T;
}

function vocabLines(path: string): number {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0).length;
  } catch (e) {
    throw new RefitError('E_MODEL_CONFIG', `${path}: cannot read vocabulary (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** The model: --model, else model.pretrained / model.preset of the config, else bert-base; vocab from flag or model.vocab. */
export function modelFromInputs(flags: MemoryFlags, cfg: RunConfig): ModelDims {
  const spec = flags.model ?? cfg.model.pretrained ?? cfg.model.preset ?? 'bert-base';
  const vocab = intOption('--vocab-size', flags.vocabSize) ?? (!flags.model && !cfg.model.pretrained && cfg.model.vocab ? vocabLines(cfg.model.vocab) : undefined);
  return withLayers(loadModelDims(spec, vocab !== undefined ? { vocab_size: vocab } : {}), cfg.model.num_hidden_layers);
}

/** The run config from -c and key=value overrides (defaults when neither is given); DeepKE keys refit ignores are warned. */
export function configFromInputs(flags: MemoryFlags, overrides: string[], ctx: CliContext): RunConfig {
  return resolvedFromInputs(flags, overrides, ctx).config;
}

/** configFromInputs with what was written and the Hydra composition of a DeepKE conf folder (-c conf/). */
export function resolvedFromInputs(flags: MemoryFlags, overrides: string[], ctx: CliContext): ResolvedConfig {
  return resolveConfigDetailed({ file: flags.config, overrides, env: ctx.env, warn: (line) => ctx.io.stderr.write(`refit: warning: ${line}\n`) });
}

/** DeepKE pads every batch to this length whatever its conf says (its collate hard-codes 512). */
export const DEEPKE_PADDED_LENGTH = 512;

/** The device: --gpu NAME|SIZE, else memory.budget of the config when it is a size. */
export function gpuFromInputs(flags: MemoryFlags, cfg: RunConfig): GpuSpec | undefined {
  if (flags.gpu !== undefined) return resolveGpu(flags.gpu);
  if (cfg.memory.budget && cfg.memory.budget !== 'auto') return { name: cfg.memory.budget, memory_bytes: parseSize(cfg.memory.budget), bf16: false };
  return undefined;
}

/**
 * The run to plan. A DeepKE conf folder (-c conf/) is planned as DeepKE runs it unless flags say otherwise:
 * Hugging Face BertModel (hf), fp32, eager attention, every batch padded to 512 (unless the conf sets a length).
 */
function runFromInputs(flags: MemoryFlags, resolved: ResolvedConfig): RunShape {
  const cfg = resolved.config;
  const m = cfg.memory;
  const engine = enumOption('--engine', flags.engine, ['refit', 'hf'] as const) ?? (resolved.hydra ? 'hf' : 'refit');
  const deepkeLength = resolved.hydra && engine === 'hf' && !resolved.explicit.has('memory.max_seq_len');
  const ckptFlag = enumOption('--grad-checkpointing', flags.gradCheckpointing, ['on', 'off'] as const);
  return {
    engine,
    mode: enumOption('--mode', flags.mode, ['train', 'infer'] as const) ?? 'train',
    batch_size: intOption('--batch-size', flags.batchSize) ?? m.micro_batch_size ?? cfg.train.batch_size,
    seq_len: intOption('--seq-len', flags.seqLen) ?? (deepkeLength ? DEEPKE_PADDED_LENGTH : m.max_seq_len),
    // 'auto' is fit's to decide; plan shows the plain setting: fp32, and the engine's usual attention
    precision: enumOption('--precision', flags.precision, ['fp32', 'fp16', 'bf16'] as const) ?? (m.precision === 'auto' ? 'fp32' : m.precision),
    attention: enumOption('--attention', flags.attention, ['eager', 'sdpa'] as const) ?? (m.attention !== 'auto' ? m.attention : engine === 'hf' ? 'eager' : 'sdpa'),
    grad_checkpointing: ckptFlag ? ckptFlag === 'on' : m.grad_checkpointing === true,
    optimizer: enumOption('--optimizer', flags.optimizer, ['adamw', 'adamw-fused', 'sgd'] as const) ?? m.optimizer,
    num_labels: intOption('--num-labels', flags.numLabels) ?? cfg.data.num_relations ?? 50,
    freeze_layers: intOption('--freeze-layers', flags.freezeLayers, 0) ?? m.freeze_layers,
    ...headShape(enumOption('--head', flags.head, ['entity-start', 'cls', 'deepke-lm'] as const) ?? cfg.model.head, cfg),
    // DeepKE wraps the model in nn.DataParallel with use_multi_gpu; refit's worker trains on one device.
    ...(engine === 'hf' && (cfg.device_ids?.length ?? 0) > 1 ? { data_parallel: cfg.device_ids!.length } : {}),
  };
}

/** The head of a run shape, with the deepke-lm head's RNN from model.rnn. */
export function headShape(head: RunConfig['model']['head'], cfg: RunConfig): Pick<RunShape, 'head' | 'rnn'> {
  if (head !== 'deepke-lm') return { head };
  const { type, hidden_size, num_layers, bidirectional } = cfg.model.rnn;
  return { head, rnn: { type, hidden_size, num_layers, bidirectional } };
}

/** Adds the options shared by plan and fit to `cmd`. */
export function memoryOptions(cmd: Command): Command {
  return cmd
    .argument('[overrides...]', 'config overrides as key=value (e.g. train.batch_size=16)')
    .option('-c, --config <file|conf/>', 'run config (YAML), or a DeepKE conf folder (Hydra defaults list + overrides); flags win over it')
    .option('--engine <refit|hf>', 'refit (our worker) or hf (Hugging Face BertModel, as DeepKE runs it)')
    .option('--model <preset|dir|config.json>', 'bert-tiny … bert-large, an HF model folder or its config.json')
    .option('--vocab-size <n>', 'vocabulary size (e.g. 21128 for Chinese BERT)')
    .option('--seq-len <n>', 'padded sequence length')
    .option('--num-labels <n>', 'number of relations (default 50)')
    .option('--head <entity-start|cls|deepke-lm>', 'relation head (deepke-lm: DeepKE\'s BERT → BiLSTM → linear)')
    .option('--freeze-layers <n>', 'freeze the embeddings and the lowest n layers')
    .option('--gpu <name|size>', 'a card (RTX 3060, T4, A100 80GB, …) or its memory (12GB, 11.75GiB)')
    .option('--json', 'print one JSON object');
}

/** Registers `refit plan`. */
export function registerPlan(program: Command, ctx: CliContext): void {
  memoryOptions(program.command('plan').description('predict the peak GPU memory of a training or inference run'))
    .option('--batch-size <n>', 'micro-batch size')
    .option('--precision <fp32|fp16|bf16>', 'fp32, or autocast fp16/bf16 with fp32 master weights')
    .option('--attention <eager|sdpa>', 'attention implementation')
    .option('--grad-checkpointing <on|off>', 'gradient checkpointing')
    .option('--optimizer <adamw|adamw-fused|sgd>', 'optimizer')
    .option('--mode <train|infer>', 'training step or inference forward')
    .action((overrides: string[], flags: MemoryFlags) => {
      const resolved = resolvedFromInputs(flags, overrides, ctx);
      const cfg = resolved.config;
      const model = modelFromInputs(flags, cfg);
      const run = runFromInputs(flags, resolved);
      const gpu = gpuFromInputs(flags, cfg);
      const plan = planMemory({ model, run, gpu });
      ctx.io.stdout.write(flags.json ? JSON.stringify(plan, null, 2) + '\n' : formatPlan(plan));
    });
}

/** The text report of a plan: a table of the breakdown and a one-line verdict. */
export function formatPlan(p: MemoryPlan): string {
  const c = p.config;
  const m = c.model;
  const head = `${p.engine} ${p.mode}: BERT L=${m.num_hidden_layers} h=${m.hidden_size} heads=${m.num_attention_heads} vocab=${m.vocab_size}, `
    + `batch ${c.batch_size} × seq ${c.seq_len}, ${c.precision}, ${c.attention}${c.grad_checkpointing ? ', checkpointing' : ''}`
    + `${p.mode === 'train' ? `, ${c.optimizer}` : ''}`
    + `${c.head === 'deepke-lm' && c.rnn ? `, ${c.rnn.bidirectional ? 'Bi' : ''}${c.rnn.type} head (${c.rnn.hidden_size}×${c.rnn.num_layers})` : ''}`
    + `${c.data_parallel && c.data_parallel > 1 ? `, DataParallel on ${c.data_parallel} GPUs (GPU 0 shown)` : ''}`;
  const rows: Array<[string, number]> = Object.entries(p.breakdown) as Array<[string, number]>;
  const lines = [head, `  ${'params'.padEnd(18)}${p.params.toLocaleString('en-US').padStart(14)}`];
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(18)}${formatBytes(v).padStart(14)}`);
  lines.push(`  ${'peak allocated'.padEnd(18)}${formatBytes(p.peak_allocated_bytes).padStart(14)}   (peak at ${p.peak_phase})`);
  lines.push(`  ${'peak reserved'.padEnd(18)}${formatBytes(p.peak_reserved_bytes).padStart(14)}`);
  lines.push(`  ${'peak device'.padEnd(18)}${formatBytes(p.peak_device_bytes).padStart(14)}   (reserved + CUDA context)`);
  lines.push(verdict(p));
  return lines.join('\n') + '\n';
}

function verdict(p: MemoryPlan): string {
  if (p.budget_bytes === undefined) return `verdict: needs about ${formatBytes(p.peak_device_bytes)} of GPU memory (give --gpu to check a card)`;
  const gpu = p.config.gpu ?? 'the card';
  if (p.fits) return `verdict: fits ${gpu} (${formatBytes(p.budget_bytes)}): ${formatBytes(p.peak_device_bytes)} needed, ${formatBytes(p.budget_bytes - p.peak_device_bytes)} to spare`;
  return `verdict: does not fit ${gpu} (${formatBytes(p.budget_bytes)}): needs ${formatBytes(p.peak_device_bytes)}, ${formatBytes(p.peak_device_bytes - p.budget_bytes)} over; try refit fit --gpu "${gpu}"`;
}

