// `refit fit --gpu NAME|SIZE`: the fastest configuration that fits the card with a margin, keeping
// micro-batch × accumulation = the effective batch. Search lives in src/memory/fit.ts; this prints/writes.
import { renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { configToYaml, type RunConfig } from '../../config/index.ts';
import { RefitError } from '../../errors.ts';
import {
  FIT_LEVERS,
  withValue,
  STRATEGIES,
  configAllow,
  fitConfig,
  formatBytes,
  type FitAllow,
  type FitCandidate,
  type FitResult,
  type ShapeFacts,
} from '../../memory/index.ts';
import { enumOption, intOption, listOption } from '../options.ts';
import {
  gpuFromInputs,
  leverFlagText,
  leverOptions,
  memoryOptions,
  modelFromInputs,
  planInputs,
  resolvedFromInputs,
  type MemoryFlags,
  describeRun,
} from '../memory-flags.ts';

interface FitFlags extends MemoryFlags {
  margin?: string;
  write?: string;
}

/**
 * What the search may vary: the config's levers as train's `memory: auto` reads them (configAllow: `auto` searched,
 * a set value kept), and over them the fit flags of the levers fit searches (a list of values, or on|off|auto).
 */
function allowFrom(flags: FitFlags, config: RunConfig): FitAllow {
  const allow: Record<string, readonly unknown[] | undefined> = { ...configAllow(config) };
  for (const l of FIT_LEVERS) {
    const flag = `--${l.flag?.name}`;
    const text = leverFlagText(flags, l);
    if (l.schema.type === 'integer') {
      // an integer lever's flag keeps that value (`--freeze-layers 4`)
      const n = intOption(flag, text, l.schema.minimum as number);
      if (n !== undefined) allow[l.name] = [n];
    } else if (l.values) {
      const list = listOption(flag, text, l.values);
      if (list) allow[l.name] = list;
    } else {
      const c = enumOption(flag, text, ['on', 'off', 'auto'] as const);
      if (c) allow[l.name] = c === 'auto' ? undefined : [c === 'on'];
    }
  }
  return allow;
}

/** Registers `refit fit`. */
export function registerFit(program: Command, ctx: CliContext): void {
  leverOptions(
    memoryOptions(
      program
        .command('fit')
        .description('find the fastest configuration that fits a GPU, keeping the effective batch'),
    ),
    'fit',
  )
    .option(
      '--effective-batch <n>',
      'examples per optimizer step (micro-batch × accumulation); default train.batch_size',
    )
    .option('--margin <fraction>', 'share of the card kept free (default 0.05)')
    .option('--write <file>', 'write the chosen settings as a config file (YAML)')
    .option(
      '--gpus <n>',
      'GPUs of this kind, one rank each: strategy and per-rank micro-batch are searched together (the ' +
        'effective batch is kept)',
    )
    .action((overrides: string[], flags: FitFlags) => {
      if (!flags.gpu)
        throw new RefitError(
          'E_OPTION',
          'refit fit: give the card with --gpu NAME|SIZE (e.g. --gpu "RTX 3060" or --gpu 12GB)',
        );
      const resolved = resolvedFromInputs(flags, overrides, ctx);
      // The run as `refit plan -c` reads it (the head and its RNN, frozen layers, the optimizer, DeepKE's padding and
      // DataParallel, the ranks): fit searches the levers over it, each candidate planned as plan plans it.
      const { config, facts } = planInputs(flags, resolved, 'fit');
      const model = modelFromInputs(flags, config);
      const gpu = gpuFromInputs(flags, config)!;
      const margin = flags.margin === undefined ? undefined : Number(flags.margin);
      if (margin !== undefined && !(margin >= 0 && margin < 1))
        throw new RefitError(
          'E_OPTION',
          `--margin: expected a fraction from 0 to 1 (e.g. 0.05), got '${flags.margin}'`,
        );
      const result = fitConfig({
        config,
        facts,
        model,
        gpu,
        margin,
        allow: allowFrom(flags, config),
        // a strategy set in the config is kept (as train keeps it); auto and --strategy are searched
        strategies:
          listOption('--strategy', flags.strategy, STRATEGIES) ??
          (config.distributed.strategy === 'auto' ? undefined : [config.distributed.strategy]),
      });
      if (flags.write) writeSettings(flags.write, chosenConfig(config, facts, result, flags), result, facts);
      ctx.io.stdout.write(flags.json ? JSON.stringify(result, null, 2) + '\n' : formatFit(result));
    });
}

/**
 * The config of the chosen configuration: the run as configured with the chosen levers (memory: manual), DeepKE's
 * fixed padding written out as max padding to that length, and --model / --num-labels as config keys, so that
 * `refit plan -c` (with the same --engine) plans the same run and `refit train -c` trains it.
 */
function chosenConfig(config: RunConfig, facts: ShapeFacts, r: FitResult, flags: FitFlags): RunConfig {
  const c = r.config as unknown as Record<string, unknown>;
  const model = flags.model
    ? flags.model.startsWith('bert-')
      ? { preset: flags.model, pretrained: undefined }
      : { pretrained: flags.model, preset: undefined }
    : {};
  const chosen: RunConfig = {
    ...config,
    model: { ...config.model, ...model },
    data: { ...config.data, num_relations: r.run.num_labels },
    distributed: {
      ...config.distributed,
      ...(r.config.ranks ? { nproc_per_node: r.config.ranks, strategy: r.config.strategy } : {}),
    },
    memory: {
      ...config.memory,
      mode: 'manual',
      micro_batch_size: r.config.micro_batch_size,
      grad_accumulation: r.config.grad_accumulation,
      ...Object.fromEntries(
        FIT_LEVERS.filter((l) => l.key.startsWith('memory.')).map((l) => [l.name, c[l.name]]),
      ),
      ...(facts.padded_length !== undefined ? { max_seq_len: facts.padded_length, padding: 'max' } : {}),
    },
  };
  // a searched lever outside memory.* (model.lora.rank) at its own key
  return FIT_LEVERS.filter((l) => !l.key.startsWith('memory.')).reduce(
    (out, l) => withValue(out, l.key, c[l.name]),
    chosen,
  );
}

/** Writes the chosen configuration as a whole refit config (every key, like a run's config.yaml), atomically. */
function writeSettings(path: string, config: RunConfig, r: FitResult, facts: ShapeFacts): void {
  const engine = facts.engine === 'hf' ? ' --engine hf' : '';
  const text =
    `# written by refit fit for ${r.gpu}: predicted peak ${formatBytes(r.peak_device_bytes)} of ` +
    `${formatBytes(r.budget_bytes)} (refit plan -c FILE${engine} --gpu … plans the same run)\n` +
    configToYaml(config);
  try {
    writeFileSync(path + '.tmp', text);
    renameSync(path + '.tmp', path);
  } catch (e) {
    throw new RefitError(
      'E_WRITE',
      `${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
}

/** A searched lever's value as fit's table shows it (booleans as on/off). */
const shown = (v: unknown): string => (typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v));

/** One row of fit's table: the split, then one column per lever fit searches (the table's fit.column), the figures. */
function row(mark: string, c: FitCandidate): string {
  const k = c.config;
  const levers = FIT_LEVERS.map((l) =>
    shown((k as unknown as Record<string, unknown>)[l.name]).padEnd(l.fit!.column.width),
  ).join(' ');
  return (
    `${mark} ${String(k.micro_batch_size).padStart(5)} ${String(k.grad_accumulation).padStart(5)}  ${levers}` +
    `${formatBytes(c.peak_device_bytes).padStart(12)} ${c.predicted_examples_per_s.toFixed(1).padStart(10)}` +
    `${k.strategy ? `  ${k.strategy}` : ''}`
  );
}

/** The text report of a fit: the run searched, the chosen configuration, the runners-up and a one-line verdict. */
export function formatFit(r: FitResult): string {
  const c = r.config;
  const k = c as unknown as Record<string, unknown>;
  const header = FIT_LEVERS.map((l) => l.fit!.column.title.padEnd(l.fit!.column.width)).join(' ');
  const lines = [
    `${r.gpu}: budget ${formatBytes(r.budget_bytes)} (after the safety margin), effective batch ` +
      `${r.effective_batch}, seq ${c.seq_len} (${c.padding} padding)`,
    `run: ${describeRun(r.run)}`,
    `  micro accum  ${header}  peak device  examples/s` +
      `${c.ranks && c.ranks > 1 ? `  strategy (per rank, ${c.ranks} GPUs)` : ''}`,
    row('*', r),
    ...r.alternatives.map((a) => row(' ', a)),
  ];
  const ranks = c.ranks && c.ranks > 1 ? ` on each of ${c.ranks} GPUs (${c.strategy})` : '';
  const levers = FIT_LEVERS.map((l) =>
    typeof k[l.name] === 'boolean'
      ? `${l.name.replace(/_/g, ' ')} ${shown(k[l.name])}`
      : `${String(k[l.name])}${l.fit!.column.unit ? ` ${l.fit!.column.unit}` : ''}`,
  ).join(', ');
  const how = `micro-batch ${c.micro_batch_size} × ${c.grad_accumulation} accumulation${ranks}, ${levers}`;
  lines.push(
    r.fits
      ? `verdict: ${how}: ${formatBytes(r.peak_device_bytes)} of ${formatBytes(r.budget_bytes)}, ` +
          `~${r.predicted_examples_per_s.toFixed(0)} examples/s`
      : `verdict: nothing fits ${r.gpu}; the smallest (${how}) needs ${formatBytes(r.peak_device_bytes)}; ` +
          `use a shorter --seq-len or a smaller model`,
  );
  return lines.join('\n') + '\n';
}
