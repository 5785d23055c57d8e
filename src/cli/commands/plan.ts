// `refit plan`: predicted peak memory of training or inference for a model + configuration (+ device).
// Resolves the run config (-c, key=value) and flags (flags win), plans it through the one planning path
// (planConfig: runShapeOf → planMemory), prints a table or JSON.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { formatBytes, planConfig, type MemoryPlan } from '../../memory/index.ts';
import {
  gpuFromInputs,
  leverOptions,
  memoryOptions,
  modelFromInputs,
  planInputs,
  resolvedFromInputs,
  type MemoryFlags,
  describeRun,
} from '../memory-flags.ts';

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
      const { config, facts } = planInputs(flags, resolved, 'plan');
      const model = modelFromInputs(flags, config);
      const gpu = gpuFromInputs(flags, config);
      const { plan } = planConfig({ config, facts, model, gpu });
      ctx.io.stdout.write(flags.json ? JSON.stringify(plan, null, 2) + '\n' : formatPlan(plan));
    });
}

/** The text report of a plan: a table of the breakdown and a one-line verdict. */
export function formatPlan(p: MemoryPlan): string {
  const head = `${p.engine} ${p.mode}: ${describeRun(p.config, p.mode)}`;
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
  const h = p.host;
  if (h) {
    lines.push(`host memory (offload ${p.config.offload}; pinned on CUDA):`);
    for (const k of ['optimizer', 'master_weights', 'gradients', 'activations', 'total'] as const)
      if (h[k]) lines.push(`  ${k.padEnd(18)}${formatBytes(h[k]).padStart(14)}`);
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
