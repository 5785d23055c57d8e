// `refit demo`'s training throughput on Debian's OpenBLAS against the reference BLAS (issue 20): the same command,
// run by the built binary, once with the BLAS libblas.so.3 resolves to and once with LD_LIBRARY_PATH at the reference
// one (/usr/lib/x86_64-linux-gnu/blas/), rounds alternating; examples/s from each run's metrics.json, the BLAS as the
// worker's own probe names it under that environment.
// Run: npm run build && node --import tsx bench/demo-blas.ts [--epochs 1] [--rounds 1] [--out bench/results/demo-blas.md]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findPython } from '../src/worker/index.ts';
import { workerBlas } from './blas.ts';

const { values: opts } = parseArgs({
  options: {
    epochs: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    reference: { type: 'string', default: '/usr/lib/x86_64-linux-gnu/blas' },
    out: { type: 'string', default: 'bench/results/demo-blas.md' },
  },
});
const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SETUPS = [
  { name: 'as installed', env: {} as Record<string, string> },
  { name: 'reference BLAS', env: { LD_LIBRARY_PATH: opts.reference! } },
];

function demo(env: Record<string, string>, out: string): number {
  execFileSync(
    process.execPath,
    [join(ROOT, 'bin/refit.mjs'), 'demo', '--out', out, '--progress', 'none', `train.epochs=${opts.epochs}`],
    {
      env: { ...process.env, ...env, REFIT_LOG: join(out, '..', 'cli.log') },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).train.examples_per_s;
}

const dir = mkdtempSync(join(tmpdir(), 'refit-bench-demo-blas-'));
const python = (await findPython({ env: process.env })).python;
const load0 = loadavg();
const eps = new Map<string, number[]>();
for (let round = 0; round < Number(opts.rounds); round++)
  for (const s of SETUPS) {
    const e = demo(s.env, join(dir, `${s.name.replace(/\W+/g, '-')}-${round}`));
    eps.set(s.name, [...(eps.get(s.name) ?? []), e]);
    process.stderr.write(`${s.name}: ${e.toFixed(1)} examples/s\n`);
  }
const best = (name: string) => Math.max(...eps.get(name)!);
const cmd = `node bin/refit.mjs demo --out DIR --progress none train.epochs=${opts.epochs}`;
const md = [
  `# refit demo: training examples/s on OpenBLAS vs the reference BLAS (${new Date().toISOString().slice(0, 10)})`,
  '',
  `Command, each row: \`${cmd}\`; the reference row with \`LD_LIBRARY_PATH=${opts.reference}\`. All in one run of`,
  `\`node --import tsx bench/demo-blas.ts --epochs ${opts.epochs} --rounds ${opts.rounds}\` on ${cpus().length} × ` +
    `${cpus()[0]?.model}, the default threads.`,
  `Load average at the start ${load0.map((l) => l.toFixed(1)).join(', ')}, at the end ` +
    `${loadavg()
      .map((l) => l.toFixed(1))
      .join(', ')}: the machine is shared with other jobs; the ratio is within this run.`,
  '',
  '| BLAS (the worker probe) | examples/s per round | best |',
  '|---|---|---|',
  ...SETUPS.map(
    (s) =>
      `| ${workerBlas(python, { ...process.env, ...s.env })} | ${eps
        .get(s.name)!
        .map((e) => e.toFixed(1))
        .join(' / ')} | ${best(s.name).toFixed(1)} |`,
  ),
  '',
  `**${(best(SETUPS[0].name) / best(SETUPS[1].name)).toFixed(1)}×** the reference BLAS's examples/s (target ≥ 5×).`,
  '',
].join('\n');
writeFileSync(opts.out!, md);
process.stdout.write(md);
