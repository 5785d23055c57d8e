// `refit fit --gpu NAME|SIZE`: the fastest configuration that fits the card with a margin, keeping
// micro-batch × accumulation = the effective batch. Search lives in src/memory/fit.ts; this prints/writes.
import { renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { CliContext } from '../context.ts';
import { RefitError } from '../../errors.ts';
import {
  FIT_LEVERS,
  deepkeFacts,
  fitConfig,
  formatBytes,
  runShapeOf,
  type FitAllow,
  type FitCandidate,
  type FitResult,
} from '../../memory/index.ts';
import { enumOption, intOption, listOption } from '../options.ts';
import {
  configFromInputs,
  gpuFromInputs,
  leverFlagText,
  leverOptions,
  memoryOptions,
  modelFromInputs,
  readLengths,
  type MemoryFlags,
} from '../memory-flags.ts';

interface FitFlags extends MemoryFlags {
  effectiveBatch?: string;
  margin?: string;
  lengthsFrom?: string;
  write?: string;
  gpus?: string;
}

/** What the search may vary, from the fit flags of the levers fit searches (a list of values, or on|off|auto). */
function allowFrom(flags: FitFlags): Partial<FitAllow> {
  const allow: Record<string, unknown[]> = {};
  for (const l of FIT_LEVERS) {
    const flag = `--${l.flag?.name}`;
    const text = leverFlagText(flags, l);
    if (l.values) {
      const list = listOption(flag, text, l.values);
      if (list) allow[l.name] = list;
    } else {
      const c = enumOption(flag, text, ['on', 'off', 'auto'] as const);
      if (c && c !== 'auto') allow[l.name] = [c === 'on'];
    }
  }
  return allow as Partial<FitAllow>;
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
    .option(
      '--lengths-from <file>',
      'example lengths for the dynamic-padding policy: an encoded dataset (.refit-ds) or integers',
    )
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
      const cfg = configFromInputs(flags, overrides, ctx);
      const model = modelFromInputs(flags, cfg);
      const gpu = gpuFromInputs(flags, cfg)!;
      const margin = flags.margin === undefined ? undefined : Number(flags.margin);
      if (margin !== undefined && !(margin >= 0 && margin < 1))
        throw new RefitError(
          'E_OPTION',
          `--margin: expected a fraction from 0 to 1 (e.g. 0.05), got '${flags.margin}'`,
        );
      const engine = enumOption('--engine', flags.engine, ['refit', 'hf'] as const) ?? 'refit';
      const freeze = intOption('--freeze-layers', flags.freezeLayers, 0);
      // What the search keeps is the config's run shape (runShapeOf): the head as configured (DeepKE's model_name: lm
      // is the deepke-lm head with its RNN), the frozen layers, DataParallel for DeepKE's run; the relations.
      const { run } = runShapeOf(
        {
          ...cfg,
          model: {
            ...cfg.model,
            head:
              enumOption('--head', flags.head, ['entity-start', 'cls', 'deepke-lm'] as const) ??
              cfg.model.head,
          },
          memory: { ...cfg.memory, freeze_layers: freeze ?? cfg.memory.freeze_layers },
        },
        {
          engine,
          num_labels: intOption('--num-labels', flags.numLabels),
          ...deepkeFacts({ engine, config_file: false, explicit_seq_len: true, device_ids: cfg.device_ids }),
        },
      );
      const result = fitConfig({
        model,
        gpu,
        margin,
        allow: allowFrom(flags),
        engine,
        num_labels: run.num_labels,
        effective_batch: intOption('--effective-batch', flags.effectiveBatch) ?? cfg.train.batch_size,
        seq_len: intOption('--seq-len', flags.seqLen) ?? cfg.memory.max_seq_len,
        shape: {
          head: run.head,
          freeze_layers: run.freeze_layers,
          ...(run.rnn ? { rnn: run.rnn } : {}),
          ...(run.data_parallel ? { data_parallel: run.data_parallel } : {}),
        },
        lengths: flags.lengthsFrom ? Array.from(readLengths(flags.lengthsFrom)) : undefined,
        ranks: intOption('--gpus', flags.gpus),
        strategies: listOption('--strategy', flags.strategy, ['ddp', 'zero1', 'fsdp'] as const),
      });
      if (flags.write)
        writeSettings(flags.write, result, flags.model ?? cfg.model.pretrained ?? cfg.model.preset);
      ctx.io.stdout.write(flags.json ? JSON.stringify(result, null, 2) + '\n' : formatFit(result));
    });
}

/** Writes the chosen configuration as a refit config (memory: manual, the levers; train.batch_size), atomically. */
function writeSettings(path: string, r: FitResult, model: string | undefined): void {
  const c = r.config;
  const doc: Record<string, unknown> = {
    ...(model ? { model: { [model.startsWith('bert-') ? 'preset' : 'pretrained']: model } } : {}),
    train: { batch_size: r.effective_batch },
    ...(c.ranks && c.ranks > 1 ? { distributed: { nproc_per_node: c.ranks, strategy: c.strategy } } : {}),
    memory: {
      mode: 'manual',
      micro_batch_size: c.micro_batch_size,
      grad_accumulation: c.grad_accumulation,
      ...Object.fromEntries(FIT_LEVERS.map((l) => [l.name, (c as Record<string, unknown>)[l.name]])),
      max_seq_len: c.seq_len,
      padding: c.padding,
    },
  };
  const text =
    `# written by refit fit for ${r.gpu}: predicted peak ${formatBytes(r.peak_device_bytes)} of ` +
    `${formatBytes(r.budget_bytes)}\n${stringify(doc)}`;
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

function row(mark: string, c: FitCandidate): string {
  const k = c.config;
  return (
    `${mark} ${String(k.micro_batch_size).padStart(5)} ${String(k.grad_accumulation).padStart(5)}  ` +
    `${k.precision.padEnd(5)} ${k.attention.padEnd(6)} ${(k.grad_checkpointing ? 'on' : 'off').padEnd(5)}` +
    `${formatBytes(c.peak_device_bytes).padStart(12)} ${c.predicted_examples_per_s.toFixed(1).padStart(10)}` +
    `${k.strategy ? `  ${k.strategy}` : ''}`
  );
}

/** The text report of a fit: the chosen configuration, the runners-up and a one-line verdict. */
export function formatFit(r: FitResult): string {
  const c = r.config;
  const lines = [
    `${r.gpu}: budget ${formatBytes(r.budget_bytes)} (after the safety margin), effective batch ` +
      `${r.effective_batch}, seq ${c.seq_len} (${c.padding} padding)`,
    `  micro accum  prec  attn   ckpt  peak device  examples/s` +
      `${c.ranks && c.ranks > 1 ? `  strategy (per rank, ${c.ranks} GPUs)` : ''}`,
    row('*', r),
    ...r.alternatives.map((a) => row(' ', a)),
  ];
  const ranks = c.ranks && c.ranks > 1 ? ` on each of ${c.ranks} GPUs (${c.strategy})` : '';
  const how =
    `micro-batch ${c.micro_batch_size} × ${c.grad_accumulation} accumulation${ranks}, ` +
    `${c.precision}, ${c.attention}, checkpointing ${c.grad_checkpointing ? 'on' : 'off'}`;
  lines.push(
    r.fits
      ? `verdict: ${how}: ${formatBytes(r.peak_device_bytes)} of ${formatBytes(r.budget_bytes)}, ` +
          `~${r.predicted_examples_per_s.toFixed(0)} examples/s`
      : `verdict: nothing fits ${r.gpu}; the smallest (${how}) needs ${formatBytes(r.peak_device_bytes)}; ` +
          `use a shorter --seq-len or a smaller model`,
  );
  return lines.join('\n') + '\n';
}
