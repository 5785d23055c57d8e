// `refit plan`: predicted peak memory of training or inference for a model + configuration (+ device).
// Resolves the run config (-c, key=value) and flags (flags win), calls planMemory, prints a table or JSON.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { RefitError } from '../../errors.ts';
import { resolveConfigDetailed, type ResolvedConfig, type RunConfig } from '../../config/index.ts';
import { LEVERS, deepkeFacts, formatBytes, modelFromConfig, planMemory, resolveGpu, parseSize, runShapeOf, type GpuSpec, type Lever, type MemoryPlan, type ShapeConfig, type ModelDims, type RunShape } from '../../memory/index.ts';

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

/** The model: --model, else model.pretrained / model.preset of the config, else bert-base; vocab from flag or model.vocab. */
export function modelFromInputs(flags: MemoryFlags, cfg: RunConfig): ModelDims {
  return modelFromConfig(cfg, { model: flags.model, vocab_size: intOption('--vocab-size', flags.vocabSize) });
}

/** The run config from -c and key=value overrides (defaults when neither is given); DeepKE keys refit ignores are warned. */
export function configFromInputs(flags: MemoryFlags, overrides: string[], ctx: CliContext): RunConfig {
  return resolvedFromInputs(flags, overrides, ctx).config;
}

/** configFromInputs with what was written and the Hydra composition of a DeepKE conf folder (-c conf/). */
export function resolvedFromInputs(flags: MemoryFlags, overrides: string[], ctx: CliContext): ResolvedConfig {
  return resolveConfigDetailed({ file: flags.config, overrides, env: ctx.env, warn: (line) => ctx.io.stderr.write(`refit: warning: ${line}\n`) });
}

/** The device: --gpu NAME|SIZE, else memory.budget of the config when it is a size. */
export function gpuFromInputs(flags: MemoryFlags, cfg: RunConfig): GpuSpec | undefined {
  if (flags.gpu !== undefined) return resolveGpu(flags.gpu);
  if (cfg.memory.budget && cfg.memory.budget !== 'auto') return { name: cfg.memory.budget, memory_bytes: parseSize(cfg.memory.budget), bf16: false };
  return undefined;
}

const camel = (name: string): string => name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

/** The text of a lever's flag as commander parsed it (its camelCase name). */
export function leverFlagText(flags: object, l: Lever): string | undefined {
  return l.flag ? (flags as Record<string, string | undefined>)[camel(l.flag.name)] : undefined;
}

/** The config value a `refit plan` lever flag sets (`--precision bf16`, `--grad-checkpointing on`, `--seq-len 512`), or undefined. */
function planFlagValue(l: Lever, text: string | undefined): string | number | boolean | undefined {
  const flag = `--${l.flag!.name}`;
  if (l.values) return enumOption(flag, text, l.values);
  if (l.schema.type === 'integer') return intOption(flag, text, Math.min(1, l.schema.minimum as number));
  const onOff = enumOption(flag, text, ['on', 'off'] as const);
  return onOff === undefined ? undefined : onOff === 'on';
}

/**
 * The run to plan: the config with the lever flags applied (flags win), as runShapeOf reads it. A DeepKE run
 * (the hf engine, the default for a conf folder) gets DeepKE's facts: every batch padded to 512 when the config sets
 * no length, DataParallel over device_ids.
 */
function runFromInputs(flags: MemoryFlags, resolved: ResolvedConfig): RunShape {
  const cfg = resolved.config;
  const memory: Record<string, unknown> = { ...cfg.memory };
  const set = new Set<string>();
  for (const l of LEVERS) {
    const v = l.flag?.plan ? planFlagValue(l, leverFlagText(flags, l)) : undefined;
    if (v !== undefined) { memory[l.name] = v; set.add(l.key); }
  }
  const engine = enumOption('--engine', flags.engine, ['refit', 'hf'] as const) ?? (resolved.hydra ? 'hf' : 'refit');
  const head = enumOption('--head', flags.head, ['entity-start', 'cls', 'deepke-lm'] as const) ?? cfg.model.head;
  const config = { ...cfg, memory: memory as unknown as ShapeConfig['memory'], model: { ...cfg.model, head } };
  return runShapeOf(config, {
    engine, mode: enumOption('--mode', flags.mode, ['train', 'infer'] as const) ?? 'train',
    num_labels: intOption('--num-labels', flags.numLabels),
    ...deepkeFacts({ engine, config_file: flags.config !== undefined, explicit_seq_len: resolved.explicit.has('memory.max_seq_len') || set.has('memory.max_seq_len'), device_ids: cfg.device_ids }),
  }).run;
}

/** Adds the options shared by plan and fit to `cmd`. */
export function memoryOptions(cmd: Command): Command {
  return cmd
    .argument('[overrides...]', 'config overrides as key=value (e.g. train.batch_size=16)')
    .option('-c, --config <file|conf/>', 'run config (YAML), or a DeepKE conf folder (Hydra defaults list + overrides); flags win over it')
    .option('--engine <refit|hf>', 'refit (our worker) or hf (Hugging Face BertModel, as DeepKE runs it)')
    .option('--model <preset|dir|config.json>', 'bert-tiny … bert-large, an HF model folder or its config.json')
    .option('--vocab-size <n>', 'vocabulary size (e.g. 21128 for Chinese BERT)')
    .option('--num-labels <n>', 'number of relations (default 50)')
    .option('--head <entity-start|cls|deepke-lm>', 'relation head (deepke-lm: DeepKE\'s BERT → BiLSTM → linear)')
    .option('--gpu <name|size>', 'a card (RTX 3060, T4, A100 80GB, …) or its memory (12GB, 11.75GiB)')
    .option('--json', 'print one JSON object');
}

/** Adds the lever flags of `command` (plan: one value each; fit: the values to search) from the lever table. */
export function leverOptions(cmd: Command, command: 'plan' | 'fit'): Command {
  for (const l of LEVERS) {
    const spec = l.flag?.[command];
    if (spec) cmd.option(`--${l.flag!.name} ${spec.arg}`, spec.help);
  }
  return cmd;
}

/** Registers `refit plan`. */
export function registerPlan(program: Command, ctx: CliContext): void {
  leverOptions(memoryOptions(program.command('plan').description('predict the peak GPU memory of a training or inference run')), 'plan')
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

