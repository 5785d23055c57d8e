// The flags `refit plan` and `refit fit` share (model, config, GPU, the lever flags from the lever table) and the
// example lengths `fit` and `doctor` read; each turns flag text into what the memory planner takes.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from './context.ts';
import { RefitError } from '../errors.ts';
import { resolveConfigDetailed, type ResolvedConfig, type RunConfig } from '../config/index.ts';
import { readEncodedDataset } from '../encode/index.ts';
import {
  LEVERS,
  STRATEGIES,
  configFacts,
  modelFromConfig,
  resolveGpu,
  parseSize,
  type GpuSpec,
  type Lever,
  type ModelDims,
  type RunShape,
  type ShapeFacts,
  withValue,
} from '../memory/index.ts';
import { enumOption, intOption, listOption } from './options.ts';

/** Flags shared by `plan` and `fit` (commander camelCase names). */
export interface MemoryFlags {
  config?: string;
  engine?: string;
  model?: string;
  vocabSize?: string;
  batchSize?: string;
  seqLen?: string;
  precision?: string;
  attention?: string;
  gradCheckpointing?: string;
  optimizer?: string;
  numLabels?: string;
  mode?: string;
  gpu?: string;
  freezeLayers?: string;
  /** `refit fit --allow`: the levers that change the numerics it may use */
  allow?: string;
  head?: string;
  json?: boolean;
  /** several ranks (`refit plan --nproc N --strategy S`, the lever table's distributed.* flags) */
  nproc?: string;
  strategy?: string;
  /** the data's example lengths (`--lengths-from`) */
  lengthsFrom?: string;
  /** `refit fit`: the effective batch and the GPUs (ranks) */
  effectiveBatch?: string;
  gpus?: string;
}

/**
 * The config value a one-value lever flag sets (`--precision bf16`, `--grad-checkpointing on`, `--seq-len 512`), or
 * undefined.
 */
function leverFlagValue(
  l: Lever,
  text: string | undefined,
): string | number | boolean | string[] | undefined {
  const flag = `--${l.flag!.name}`;
  if (l.values) return enumOption(flag, text, l.values);
  if (l.schema.type === 'array') {
    const list = listOption(flag, text, (l.schema.items as { enum: readonly string[] }).enum);
    return list && [...list];
  }
  if (l.schema.type === 'integer') return intOption(flag, text, Math.min(1, l.schema.minimum as number));
  const onOff = enumOption(flag, text, ['on', 'off'] as const);
  return onOff === undefined ? undefined : onOff === 'on';
}

/**
 * The run `refit plan` and `refit fit` plan: the resolved config with the flags applied (flags win) and the facts of
 * its run (configFacts: the engine, DeepKE's padding and DataParallel, the relations, the lengths, the ranks). Each
 * `memory.*` lever flag of the command sets its value, except the levers fit searches, whose `refit fit` flags are
 * lists of values to search (read by the fit command); `--nproc`/`--gpus` and `--strategy` set the ranks.
 */
export function planInputs(
  flags: MemoryFlags,
  resolved: ResolvedConfig,
  command: 'plan' | 'fit',
): { config: RunConfig; facts: ShapeFacts } {
  const cfg = resolved.config;
  const memory: Record<string, unknown> = { ...cfg.memory };
  let explicitSeq = false;
  for (const l of LEVERS.filter((x) => x.key.startsWith('memory.') && x.flag?.[command])) {
    // fit's flags of the levers it searches are lists to search (read by the fit command); an integer one sets it
    if (command === 'fit' && l.fit && l.schema.type !== 'integer') continue;
    const v = leverFlagValue(l, leverFlagText(flags, l));
    if (v === undefined) continue;
    memory[l.name] = v;
    if (l.name === 'max_seq_len') explicitSeq = true;
    // a micro-batch given on the command line wins over the config's accumulation
    if (l.name === 'micro_batch_size') memory.grad_accumulation = undefined;
  }
  let model: RunConfig['model'] = cfg.model;
  // a lever flag outside memory.* and distributed.* (`--lora-rank N`) sets its key
  for (const l of LEVERS.filter((x) => x.key.startsWith('model.') && x.flag?.[command])) {
    const v = leverFlagValue(l, leverFlagText(flags, l));
    if (v !== undefined) model = withValue(model, l.key.slice('model.'.length), v);
  }
  const distributed = { ...cfg.distributed };
  const ranks = command === 'plan' ? intOption('--nproc', flags.nproc) : intOption('--gpus', flags.gpus);
  if (ranks !== undefined) distributed.nproc_per_node = ranks;
  if (command === 'plan')
    distributed.strategy = enumOption('--strategy', flags.strategy, STRATEGIES) ?? cfg.distributed.strategy;
  const head =
    enumOption('--head', flags.head, ['entity-start', 'cls', 'deepke-lm'] as const) ?? cfg.model.head;
  const batch = command === 'fit' ? intOption('--effective-batch', flags.effectiveBatch) : undefined;
  const config: RunConfig = {
    ...cfg,
    model: { ...model, head },
    memory: memory as unknown as RunConfig['memory'],
    distributed,
    train: { ...cfg.train, batch_size: batch ?? cfg.train.batch_size },
  };
  const facts = configFacts(
    { ...resolved, config },
    {
      engine: enumOption('--engine', flags.engine, ['refit', 'hf'] as const),
      mode: enumOption('--mode', flags.mode, ['train', 'infer'] as const),
      num_labels: intOption('--num-labels', flags.numLabels),
      lengths: flags.lengthsFrom ? readLengths(flags.lengthsFrom) : undefined,
      config_file: flags.config !== undefined,
      explicit_seq_len: explicitSeq,
    },
  );
  return { config, facts };
}

/**
 * The model: --model, else model.pretrained / model.preset of the config, else bert-base; vocab from flag or
 * model.vocab.
 */
export function modelFromInputs(flags: MemoryFlags, cfg: RunConfig): ModelDims {
  return modelFromConfig(cfg, { model: flags.model, vocab_size: intOption('--vocab-size', flags.vocabSize) });
}

/**
 * The run config from -c and key=value overrides (defaults when neither is given); DeepKE keys refit ignores
 * are warned.
 */
export function configFromInputs(flags: MemoryFlags, overrides: string[], ctx: CliContext): RunConfig {
  return resolvedFromInputs(flags, overrides, ctx).config;
}

/** configFromInputs with what was written and the Hydra composition of a DeepKE conf folder (-c conf/). */
export function resolvedFromInputs(flags: MemoryFlags, overrides: string[], ctx: CliContext): ResolvedConfig {
  return resolveConfigDetailed({
    file: flags.config,
    overrides,
    env: ctx.env,
    warn: (line) => ctx.io.stderr.write(`refit: warning: ${line}\n`),
  });
}

/** The device: --gpu NAME|SIZE, else memory.budget of the config when it is a size. */
export function gpuFromInputs(flags: MemoryFlags, cfg: RunConfig): GpuSpec | undefined {
  if (flags.gpu !== undefined) return resolveGpu(flags.gpu);
  if (cfg.memory.budget && cfg.memory.budget !== 'auto')
    return { name: cfg.memory.budget, memory_bytes: parseSize(cfg.memory.budget), bf16: false };
  return undefined;
}

const camel = (name: string): string => name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

/** The text of a lever's flag as commander parsed it (its camelCase name). */
export function leverFlagText(flags: object, l: Lever): string | undefined {
  return l.flag ? (flags as Record<string, string | undefined>)[camel(l.flag.name)] : undefined;
}

/** Adds the options shared by plan and fit to `cmd`. */
export function memoryOptions(cmd: Command): Command {
  return cmd
    .argument('[overrides...]', 'config overrides as key=value (e.g. train.batch_size=16)')
    .option(
      '-c, --config <file|conf/>',
      'run config (YAML), or a DeepKE conf folder (Hydra defaults list + overrides); flags win over it',
    )
    .option('--engine <refit|hf>', 'refit (our worker) or hf (Hugging Face BertModel, as DeepKE runs it)')
    .option(
      '--model <preset|dir|config.json>',
      'bert-tiny … bert-large, an HF model folder or its config.json',
    )
    .option('--vocab-size <n>', 'vocabulary size (e.g. 21128 for Chinese BERT)')
    .option('--num-labels <n>', 'number of relations (default 50)')
    .option(
      '--head <entity-start|cls|deepke-lm>',
      "relation head (deepke-lm: DeepKE's BERT → BiLSTM → linear)",
    )
    .option('--gpu <name|size>', 'a card (RTX 3060, T4, A100 80GB, …) or its memory (12GB, 11.75GiB)')
    .option(
      '--lengths-from <file>',
      "the data's example lengths (an encoded dataset .refit-ds, or integers): dynamic padding is planned at " +
        'the longest',
    )
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

/**
 * Example lengths: an encoded dataset (`*.refit-ds`), or integers one per line (whitespace/comma separated)
 * or a JSON array.
 */
export function readLengths(path: string): ArrayLike<number> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new RefitError(
      'E_OPTION',
      `${path}: cannot read lengths (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
  if (bytes.subarray(0, 8).toString('latin1') === 'REFITDS1') return readEncodedDataset(path).lengths;
  const text = bytes.toString('utf8');
  let tokens: string[];
  try {
    tokens = text.trim().startsWith('[')
      ? (JSON.parse(text) as unknown[]).map(String)
      : text.split(/[\s,]+/).filter(Boolean);
  } catch {
    throw new RefitError('E_OPTION', `${path}: not a JSON array of lengths`);
  }
  const out: number[] = [];
  for (const [i, t] of tokens.entries()) {
    const v = Number(t);
    if (!Number.isInteger(v) || v <= 0)
      throw new RefitError('E_OPTION', `${path}: item ${i + 1} '${t}' is not a positive integer length`);
    out.push(v);
  }
  if (out.length === 0) throw new RefitError('E_OPTION', `${path}: no lengths found`);
  return out;
}

/**
 * A planned run in one line: the model, batch × seq, precision, attention, checkpointing, the optimizer, the head
 * and its RNN, frozen layers, LoRA, DataParallel and the ranks (`refit plan`'s first line, `refit fit`'s run line).
 */
export function describeRun(c: RunShape & { model?: ModelDims }, mode: 'train' | 'infer' = c.mode): string {
  const m = c.model;
  const rnnHead =
    c.head === 'deepke-lm' && c.rnn
      ? `, ${c.rnn.bidirectional ? 'Bi' : ''}${c.rnn.type} head (${c.rnn.hidden_size}×${c.rnn.num_layers})`
      : c.head
        ? `, ${c.head} head`
        : '';
  const ranks =
    c.ranks && c.ranks > 1
      ? `, ${c.ranks} ranks (${c.strategy ?? 'ddp'}; one rank shown, batch = its micro-batch)`
      : '';
  return (
    (m
      ? `BERT L=${m.num_hidden_layers} h=${m.hidden_size} heads=${m.num_attention_heads} vocab=${m.vocab_size}, `
      : '') +
    `batch ${c.batch_size} × seq ${c.seq_len}, ${c.precision}, ${c.attention}` +
    `${c.grad_checkpointing ? ', checkpointing' : ''}` +
    `${mode === 'train' ? `, ${c.optimizer}` : ''}` +
    rnnHead +
    `${c.freeze_layers ? `, ${c.freeze_layers} layers frozen` : ''}` +
    `${c.offload && c.offload !== 'none' ? `, ${c.offload} offloaded` : ''}` +
    `${c.lora_rank ? `, LoRA rank ${c.lora_rank} (${c.lora_targets?.join(', ')})` : ''}` +
    `${c.data_parallel && c.data_parallel > 1 ? `, DataParallel on ${c.data_parallel} GPUs (GPU 0 shown)` : ''}` +
    ranks
  );
}
