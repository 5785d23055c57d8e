// `refit env`: what this machine gives refit, in one block — the worker's Python, torch, the BLAS its CPU matrix
// products run on, threads, CUDA and cards, onnxruntime's version and providers — so a slow machine says why.
// Reads only: starts the real worker once (its `ready` event) and loads onnxruntime; changes nothing.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { defaultThreads, findPython, WorkerProcess, type BlasLibrary } from '../../worker/index.ts';
import { loadOrt, ortVersion } from '../../infer/index.ts';

/** `refit env --json`: one object, snake_case keys as elsewhere. */
export interface EnvReport {
  python: { path: string; version: string };
  torch: { version: string; blas: BlasLibrary | null; threads: number };
  cuda: { available: boolean; device_count: number; devices: string[] };
  onnxruntime:
    { version: string; providers: string[]; not_installed: string[]; threads: number } | { error: string };
}

/** The apt package that gives Debian's torch an optimised BLAS (bench/results/blas.md measures the choice). */
export const OPTIMISED_BLAS_PACKAGE = 'libopenblas0-pthread';

/** Collects the report: the worker started with the default threads (defaultThreads), then onnxruntime here. */
export async function envReport(ctx: CliContext): Promise<EnvReport> {
  const found = await findPython({ env: ctx.env });
  // Read once: the load average moves, and the worker and onnxruntime get the same default.
  const threads = defaultThreads();
  const worker = await WorkerProcess.start({
    python: found.python,
    env: ctx.env,
    log: ctx.log,
    num_threads: threads,
  });
  const ready = worker.ready;
  await worker.close();
  const caps = ready.capabilities;
  const devices = caps.device_names ?? (caps.device_name ? [caps.device_name] : []);
  return {
    python: { path: found.python, version: ready.python_version },
    torch: { version: ready.torch_version, blas: caps.blas ?? null, threads: ready.num_threads },
    cuda: { available: caps.cuda, device_count: caps.device_count, devices },
    onnxruntime: await ortReport(threads),
  };
}

async function ortReport(threads: number): Promise<EnvReport['onnxruntime']> {
  try {
    const backends = (await loadOrt()).listSupportedBackends();
    return {
      version: await ortVersion(),
      providers: backends.filter((b) => b.bundled).map((b) => b.name),
      not_installed: backends.filter((b) => !b.bundled).map((b) => b.name),
      threads,
    };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** The report as aligned `name  value` lines, with a last line of advice when torch runs on the reference BLAS. */
export function formatEnv(r: EnvReport): string {
  const blas = r.torch.blas;
  const ort = r.onnxruntime;
  const rows: Array<[string, string]> = [
    ['python', `${r.python.path} (${r.python.version})`],
    ['torch', r.torch.version],
    [
      'blas',
      blas ? `${blas.name}${blas.path ? ` — ${blas.path}` : ''}` : 'unknown (a worker without the probe)',
    ],
    ['threads', `${r.torch.threads} (the default now: free cores, at most 4; --threads N to change it)`],
    ['cuda', r.cuda.available ? `${r.cuda.device_count} card(s): ${r.cuda.devices.join(', ')}` : 'no'],
    [
      'onnxruntime',
      'error' in ort
        ? ort.error
        : `${ort.version}, providers ${ort.providers.join(', ')}` +
          (ort.not_installed.length ? ` (not installed: ${ort.not_installed.join(', ')})` : '') +
          `, ${ort.threads} intra-op thread(s)`,
    ],
  ];
  const lines = rows.map(([k, v]) => `${k.padEnd(12)}${v}`);
  if (blas?.reference)
    lines.push(
      `slow: torch runs on the reference BLAS (about 10x slower matrix products); install OpenBLAS: ` +
        `apt-get install ${OPTIMISED_BLAS_PACKAGE}`,
    );
  return lines.join('\n') + '\n';
}

/** Registers `refit env`. */
export function registerEnv(program: Command, ctx: CliContext): void {
  program
    .command('env')
    .description("the worker's Python, torch, BLAS, threads, CUDA and cards, and onnxruntime, in one block")
    .option(
      '--json',
      'one JSON object (keys python, torch.version, torch.blas, torch.threads, cuda, onnxruntime)',
    )
    .action(async (opts: { json?: boolean }) => {
      const report = await envReport(ctx);
      ctx.io.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatEnv(report));
    });
}
