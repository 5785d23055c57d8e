// `refit plan`: predicted peak memory of training or inference for a model + configuration (+ device).
// Resolves the run config (-c, key=value) and flags (flags win), calls planMemory, prints a table or JSON.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import type { ResolvedConfig } from '../../config/index.ts';
import {
  LEVERS,
  STRATEGIES,
  deepkeFacts,
  formatBytes,
  planMemory,
  runShapeOf,
  type Lever,
  type MemoryPlan,
  type ShapeConfig,
  type RunShape,
} from '../../memory/index.ts';
import { enumOption, intOption } from '../options.ts';
import {
  gpuFromInputs,
  leverFlagText,
  leverOptions,
  memoryOptions,
  modelFromInputs,
  resolvedFromInputs,
  type MemoryFlags,
} from '../memory-flags.ts';

/**
 * The config value a `refit plan` lever flag sets (`--precision bf16`, `--grad-checkpointing on`, `--seq-len
 * 512`), or undefined.
 */
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
  // the memory.* levers' flags; the distributed.* ones (--nproc, --strategy) are read below
  for (const l of LEVERS.filter((x) => x.key.startsWith('memory.'))) {
    const v = l.flag?.plan ? planFlagValue(l, leverFlagText(flags, l)) : undefined;
    if (v !== undefined) {
      memory[l.name] = v;
      set.add(l.key);
    }
  }
  const engine =
    enumOption('--engine', flags.engine, ['refit', 'hf'] as const) ?? (resolved.hydra ? 'hf' : 'refit');
  const head =
    enumOption('--head', flags.head, ['entity-start', 'cls', 'deepke-lm'] as const) ?? cfg.model.head;
  const config = {
    ...cfg,
    memory: memory as unknown as ShapeConfig['memory'],
    model: { ...cfg.model, head },
  };
  const run = runShapeOf(config, {
    engine,
    mode: enumOption('--mode', flags.mode, ['train', 'infer'] as const) ?? 'train',
    num_labels: intOption('--num-labels', flags.numLabels),
    ...deepkeFacts({
      engine,
      config_file: flags.config !== undefined,
      explicit_seq_len: resolved.explicit.has('memory.max_seq_len') || set.has('memory.max_seq_len'),
      device_ids: cfg.device_ids,
    }),
  }).run;
  // Several ranks (--nproc / distributed.nproc_per_node × nnodes): the plan is one rank's, the batch its micro-batch.
  const nproc =
    intOption('--nproc', flags.nproc) ??
    (typeof cfg.distributed.nproc_per_node === 'number' ? cfg.distributed.nproc_per_node : 1);
  const world = nproc * cfg.distributed.nnodes;
  const strategy =
    enumOption('--strategy', flags.strategy, STRATEGIES) ??
    (cfg.distributed.strategy === 'auto' ? 'ddp' : cfg.distributed.strategy);
  return world > 1 ? { ...run, ranks: world, strategy, data_parallel: undefined } : run;
}

/** Registers `refit plan`. */
export function registerPlan(program: Command, ctx: CliContext): void {
  leverOptions(
    memoryOptions(
      program.command('plan').description('predict the peak GPU memory of a training or inference run'),
    ),
    'plan',
  )
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
  const rnnHead =
    c.head === 'deepke-lm' && c.rnn
      ? `, ${c.rnn.bidirectional ? 'Bi' : ''}${c.rnn.type} head (${c.rnn.hidden_size}×${c.rnn.num_layers})`
      : '';
  const ranks =
    c.ranks && c.ranks > 1
      ? `, ${c.ranks} ranks (${c.strategy ?? 'ddp'}; one rank shown, batch = its micro-batch)`
      : '';
  const head =
    `${p.engine} ${p.mode}: BERT L=${m.num_hidden_layers} h=${m.hidden_size} ` +
    `heads=${m.num_attention_heads} vocab=${m.vocab_size}, ` +
    `batch ${c.batch_size} × seq ${c.seq_len}, ${c.precision}, ${c.attention}` +
    `${c.grad_checkpointing ? ', checkpointing' : ''}` +
    `${p.mode === 'train' ? `, ${c.optimizer}` : ''}` +
    rnnHead +
    `${c.data_parallel && c.data_parallel > 1 ? `, DataParallel on ${c.data_parallel} GPUs (GPU 0 shown)` : ''}` +
    ranks;
  const rows: Array<[string, number]> = Object.entries(p.breakdown) as Array<[string, number]>;
  const lines = [head, `  ${'params'.padEnd(18)}${p.params.toLocaleString('en-US').padStart(14)}`];
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(18)}${formatBytes(v).padStart(14)}`);
  lines.push(
    `  ${'peak allocated'.padEnd(18)}${formatBytes(p.peak_allocated_bytes).padStart(14)}   (peak at ${p.peak_phase})`,
  );
  lines.push(`  ${'peak reserved'.padEnd(18)}${formatBytes(p.peak_reserved_bytes).padStart(14)}`);
  lines.push(
    `  ${'peak device'.padEnd(18)}${formatBytes(p.peak_device_bytes).padStart(14)}   (reserved + CUDA context)`,
  );
  const r = p.per_rank;
  if (r) {
    lines.push(`per rank (${r.world} ranks, ${r.strategy}):`);
    for (const k of [
      'weights',
      'gradients',
      'optimizer',
      'ddp_buckets',
      'fsdp_gathered',
      'fsdp_prefetch',
      'comm_buffers',
    ] as const) {
      if (r[k]) lines.push(`  ${k.padEnd(18)}${formatBytes(r[k]).padStart(14)}`);
    }
  }
  lines.push(verdict(p));
  return lines.join('\n') + '\n';
}

function verdict(p: MemoryPlan): string {
  if (p.budget_bytes === undefined)
    return `verdict: needs about ${formatBytes(p.peak_device_bytes)} of GPU memory (give --gpu to check a card)`;
  const gpu = p.config.gpu ?? 'the card';
  if (p.fits)
    return (
      `verdict: fits ${gpu} (${formatBytes(p.budget_bytes)}): ${formatBytes(p.peak_device_bytes)} ` +
      `needed, ${formatBytes(p.budget_bytes - p.peak_device_bytes)} to spare`
    );
  return (
    `verdict: does not fit ${gpu} (${formatBytes(p.budget_bytes)}): needs ` +
    `${formatBytes(p.peak_device_bytes)}, ${formatBytes(p.peak_device_bytes - p.budget_bytes)} over; try ` +
    `refit fit --gpu "${gpu}"`
  );
}
