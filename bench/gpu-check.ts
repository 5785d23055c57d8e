// The GPU check of issue 5 (run through bench/gpu-check): (a) planned vs measured peak for the refit engine over a
// grid, (b) the 12 GB case (DeepKE-like OOMs, memory: auto trains), (c) throughput on realistic lengths, (d)
// distributed training (issue 12: plain vs ddp/zero1 in a group of one, and on N ranks with N ≥ 2 GPUs); drives the
// real Python worker and writes gpu-check.json + gpu-check.md incrementally. On CPU (or --quick) a tiny smoke version.
// (e) each lever of issue 21 against the same run without it (gpu-check-lib/levers.ts).
// Order: b, c, d, e, then the open-ended a grid until the time budget.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunLog } from '../src/log.ts';
import { resolveGpu, type GpuSpec } from '../src/memory/index.ts';
import { findPython, type ReadyEvent } from '../src/worker/index.ts';
import { errorText, saveResults, type CheckContext } from './gpu-check-lib/context.ts';
import { emptyDistributed, runDistributed } from './gpu-check-lib/distributed.ts';
import { emptyGrid, runGrid } from './gpu-check-lib/grid.ts';
import { emptyLevers, runLevers } from './gpu-check-lib/levers.ts';
import { renderMarkdown } from './gpu-check-lib/report.ts';
import { emptyScenario, runScenario } from './gpu-check-lib/scenario.ts';
import { emptyThroughput, runThroughput } from './gpu-check-lib/throughput.ts';
import type { CheckResults } from './gpu-check-lib/types.ts';
import { CheckWorker } from './gpu-check-lib/worker.ts';

/** Default time budget: the check must finish within 8 minutes. */
const DEFAULT_BUDGET_S = 420;
/** After the budget, this much grace before everything is abandoned (results are on disk by then). */
const HARD_GRACE_MS = 20_000;
const USAGE = 'usage: bench/gpu-check [--out DIR] [--quick] [--budget-s SECONDS] [--parts b,c,d,e,a]';
const PARTS = ['b', 'c', 'd', 'e', 'a'] as const;
type Part = (typeof PARTS)[number];

interface Args {
  out?: string;
  quick: boolean;
  budget_s: number;
  parts: Part[];
}

function parseParts(text: string): Part[] {
  const parts = text.split(',').map((p) => p.trim());
  const bad = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (bad.length || parts.length === 0) {
    console.error(`gpu-check: --parts takes a comma list of a, b, c, d, e; got '${text}'\n${USAGE}`);
    process.exit(2);
  }
  return PARTS.filter((p) => parts.includes(p));
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, budget_s: DEFAULT_BUDGET_S, parts: [...PARTS] };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--quick') a.quick = true;
    else if (x === '--parts' && argv[i + 1]) a.parts = parseParts(argv[++i]);
    else if (x === '--out' && argv[i + 1]) a.out = argv[++i];
    else if (x === '--budget-s' && Number(argv[i + 1]) > 0) a.budget_s = Number(argv[++i]);
    else if (x === '--help' || x === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`gpu-check: unknown argument '${x}'\n${USAGE}`);
      process.exit(2);
    }
  }
  return a;
}

/** The repository root: one level above this file (bench/) or the bundle (dist/). */
function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

function gpuSpec(caps: ReadyEvent['capabilities']): GpuSpec | undefined {
  if (!caps.cuda) return undefined;
  try {
    return resolveGpu(caps.device_name ?? '');
  } catch {
    return { name: caps.device_name ?? 'cuda', memory_bytes: caps.total_memory ?? 0, bf16: caps.bf16 };
  }
}

function skeleton(args: Args, ready: ReadyEvent, cuda: boolean, gpu: GpuSpec | undefined): CheckResults {
  const c = ready.capabilities;
  const quick = !cuda;
  const notes = [
    'Order: (b), (c), (d) and (e) first, then the (a) grid until the time budget; every figure comes from the real refit worker over the JSON-lines protocol ((d) through refit train itself).',
    ...(args.parts.length < PARTS.length
      ? [`Only parts ${args.parts.join(', ')} were asked for (--parts).`]
      : []),
    'Grid: one worker per model size; each point loads its model afresh. Injected OOMs (REFIT_INJECT_OOM=1,5) make the worker empty the CUDA allocator cache (it has no command for that) before the peak window (steps 2–4) and after it.',
    ...(cuda
      ? [
          '(c) deepke_like runs without a budget (it needs about twice the simulated card); every refit variant runs under the enforced 11.75 GiB budget.',
        ]
      : []),
    ...(cuda
      ? []
      : [
          `No CUDA${args.quick && c.cuda ? ' (--quick)' : ''}: a tiny CPU smoke version of every part; memory figures are peak RSS, no budget is enforced and no GPU target is evaluated.`,
        ]),
  ];
  return {
    tool: 'refit gpu-check',
    version: 1,
    command: ['bench/gpu-check', ...process.argv.slice(2)].join(' '),
    mode: cuda ? 'gpu' : 'cpu-quick',
    started_at: new Date().toISOString(),
    updated_at: '',
    elapsed_s: 0,
    budget_s: args.budget_s,
    complete: false,
    aborted: null,
    device: {
      cuda: c.cuda,
      name: c.device_name ?? null,
      total_memory: c.total_memory ?? null,
      torch_version: ready.torch_version,
      python_version: ready.python_version,
      bf16: c.bf16,
      sdpa: c.sdpa,
      fused_adamw: c.fused_adamw,
      gpu_spec: gpu?.name ?? null,
    },
    grid: emptyGrid(quick, cuda),
    scenario: emptyScenario(quick, cuda),
    throughput: emptyThroughput(quick, cuda),
    distributed: emptyDistributed(quick, cuda),
    levers: emptyLevers(quick, cuda),
    notes,
  };
}

/** Finds Python, asks a probe worker what the machine has, and builds the run's context. */
async function setup(args: Args, started_ms: number): Promise<CheckContext> {
  const out_dir = resolve(args.out ?? join(repoRoot(), 'bench', 'results', `gpu-check-${stamp()}`));
  const log = new RunLog(join(out_dir, 'gpu-check.log'));
  const env = { ...process.env };
  const { python, torch_version } = await findPython({ env });
  console.log(`gpu-check: python ${python} (torch ${torch_version}); results in ${out_dir}`);
  const probe = await CheckWorker.start({ python, env, log });
  const ready = probe.ready;
  await probe.close();
  const cuda = ready.capabilities.cuda && !args.quick;
  const gpu = cuda ? gpuSpec(ready.capabilities) : undefined;
  return {
    out_dir,
    tmp_dir: mkdtempSync(join(tmpdir(), 'refit-gpu-check-')),
    python,
    env,
    log,
    device: cuda ? 'cuda' : 'cpu',
    quick: !cuda,
    num_threads: cuda ? undefined : 1,
    caps: ready.capabilities,
    gpu,
    started_ms,
    budget_ms: args.budget_s * 1000,
    results: skeleton(args, ready, cuda, gpu),
    say: (line) => {
      console.log(line);
      log.write(line);
    },
  };
}

/** (b) and (c) first (the motivating case and the speed goal), then (d), then the grid until the time budget. */
async function runParts(ctx: CheckContext, parts: Part[]): Promise<void> {
  const all = { b: runScenario, c: runThroughput, d: runDistributed, e: runLevers, a: runGrid } as const;
  for (const p of parts) {
    const [name, part] = [`(${p})`, all[p]];
    try {
      await part(ctx);
    } catch (e) {
      ctx.results.notes.push(`${name} stopped by an error: ${errorText(e)}`);
      ctx.say(`${name} error: ${errorText(e)}`);
    }
  }
  const r = ctx.results;
  const cut = [r.scenario.deepke_like, r.scenario.auto, ...r.throughput.variants].some(
    (v) => v?.stopped_early,
  );
  r.complete =
    parts.length === PARTS.length &&
    !r.grid.stopped_early &&
    !r.distributed.stopped_early &&
    !cut &&
    !r.notes.some((n) => n.includes('stopped by an error'));
  saveResults(ctx);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started_ms = Date.now();
  let ctx: CheckContext | undefined;
  const hard = setTimeout(
    () => abort(ctx, `hard time limit: ${args.budget_s} s budget + ${HARD_GRACE_MS / 1000} s grace passed`),
    args.budget_s * 1000 + HARD_GRACE_MS,
  );
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => abort(ctx, `stopped by ${sig}`));
  ctx = await setup(args, started_ms);
  saveResults(ctx);
  try {
    await runParts(ctx, args.parts);
  } finally {
    clearTimeout(hard);
    rmSync(ctx.tmp_dir, { recursive: true, force: true });
  }
  console.log('\n' + renderMarkdown(ctx.results));
  console.log(`gpu-check: wrote ${join(ctx.out_dir, 'gpu-check.json')} and gpu-check.md`);
}

/** Marks the results aborted, writes what there is, and exits 1 (workers see their stdin close and exit). */
function abort(ctx: CheckContext | undefined, why: string): void {
  if (ctx) {
    ctx.results.aborted = why;
    try {
      saveResults(ctx);
    } catch {
      /* nothing more to do */
    }
    rmSync(ctx.tmp_dir, { recursive: true, force: true });
  }
  console.error(
    `gpu-check: ${why}${ctx ? `; partial results in ${ctx.out_dir}` : ' before any result was written'}`,
  );
  process.exit(1);
}

main().catch((e: unknown) => {
  console.error(`gpu-check: ${errorText(e)}`);
  process.exit(2);
});
