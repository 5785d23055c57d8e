// Where a torch worker's restart goes (issue 22, item 4), from the moment the worker is lost: the server's first
// back-off, finding the interpreter, the worker's start to `ready` (Python, `import torch`), `load` (building the
// model), `restore` (reading the saved weights into it) and the first `eval` of one row. Three ways: the worker of an
// earlier commit (`--before`, as it was: a torch probe per start, every weight drawn at random before the restore
// replaces it), this tree's (the interpreter found once, `skip_init`), and this tree's with the spare that
// process.ts starts at the loss (taken once the back-off has passed). They alternate within each round, so load
// from other jobs on the machine hits all alike; compare the ratios.
// Run: node --import tsx bench/worker-restart.ts [--preset bert-base] [--rounds 3] [--before main] [--out FILE]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { PRESETS } from '../src/memory/models.ts';
import { inferenceLoad } from '../src/session/index.ts';
import { findPython, workerPythonPath, type LoadCommand } from '../src/worker/index.ts';

const { values: opts } = parseArgs({
  options: {
    preset: { type: 'string', default: 'bert-base' },
    rounds: { type: 'string', default: '3' },
    before: { type: 'string', default: 'main' },
    threads: { type: 'string', default: '1' },
    out: { type: 'string', default: 'bench/results/worker-restart.md' },
  },
});
const ROOT = resolve(new URL('..', import.meta.url).pathname);
const PHASES = [
  'back-off',
  'find python',
  'start → ready',
  'load',
  'restore',
  'first eval',
  'total',
] as const;
const HOWS = ['before', 'after', 'after + spare'] as const;
type How = (typeof HOWS)[number];
/** The server's first back-off after a loss (serve/worker-policy.ts DEFAULT_RESTART_POLICY.base_ms). */
const BACKOFF_MS = 500;
type Times = Record<(typeof PHASES)[number], number>;

/** One worker process on the line protocol, started from the refit_worker package in `pythonPath`. */
class Worker {
  private lines: Interface;
  private waiting: Array<(line: string) => void> = [];
  constructor(readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! });
    this.lines.on('line', (l) => this.waiting.shift()?.(l));
  }
  static start(python: string, pythonPath: string): Worker {
    const env = { ...process.env, PYTHONPATH: pythonPath, PYTHONUNBUFFERED: '1' };
    return new Worker(
      spawn(python, ['-m', 'refit_worker', '--num-threads', opts.threads!], {
        env,
        stdio: ['pipe', 'pipe', 'ignore'],
      }),
    );
  }
  next(): Promise<Record<string, any>> {
    return new Promise((done, fail) => {
      this.child.once('exit', (code) => fail(new Error(`worker exited (${code})`)));
      this.waiting.push((l) => done(JSON.parse(l)));
    });
  }
  async send(cmd: object, want: string): Promise<Record<string, any>> {
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
    const ev = await this.next();
    if (ev.type !== want)
      throw new Error(`${JSON.stringify(cmd).slice(0, 80)}: ${ev.type} ${ev.message ?? ''}`);
    return ev;
  }
  close(): void {
    this.child.stdin!.end();
  }
}

const dims = PRESETS[opts.preset as keyof typeof PRESETS];
if (!dims) throw new Error(`--preset ${opts.preset}: expected one of ${Object.keys(PRESETS).join(', ')}`);
const load: LoadCommand = inferenceLoad(
  { dims, head: 'entity-start', num_labels: 10, num_threads: Number(opts.threads) },
  { device: 'cpu', attention: 'eager' },
);
const row = { input_ids: [[101, 1, 2, 3, 4, 5, 6, 102]], head_pos: [1], tail_pos: [3] };
const evalCmd = { type: 'eval', rows: row, batches: [{ indices: [0], seq_len: 8 }], tag: 'bench' };

/** One restart as `how` does it, from the loss; the phases in seconds. */
async function restart(how: How, pythonPath: string, model: string, n: number): Promise<Times> {
  const t: Partial<Times> = {};
  const start = performance.now();
  let t0 = start;
  const lap = (k: keyof Times) => {
    const now = performance.now();
    t[k] = (now - t0) / 1000;
    t0 = now;
  };
  const python = (await findPython({ env: process.env })).python; // known already: the spare starts at once
  const spare = how === 'after + spare' ? Worker.start(python, pythonPath) : undefined;
  const ready = spare?.next();
  await new Promise((r) => setTimeout(r, BACKOFF_MS));
  lap('back-off');
  // before: every start probed the interpreters (a unique PATH entry stands for a process that never asked before)
  const env =
    how === 'before' ? { ...process.env, PATH: `${process.env.PATH}:/nonexistent-${n}` } : process.env;
  await findPython({ env });
  lap('find python');
  const w = spare ?? Worker.start(python, pythonPath);
  await (ready ?? w.next());
  lap('start → ready');
  await w.send(how === 'before' ? load : { ...load, skip_init: true }, 'loaded');
  lap('load');
  await w.send({ type: 'restore', path: model }, 'restored');
  lap('restore');
  await w.send(evalCmd, 'eval_result');
  lap('first eval');
  t.total = (performance.now() - start) / 1000;
  w.close();
  return t as Times;
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'refit-restart-'));
  const before = join(tmp, 'before');
  mkdirSync(before);
  execFileSync('sh', [
    '-c',
    `git -C "${ROOT}" archive "${opts.before}" worker/python | tar -x -C "${before}"`,
  ]);
  const { python } = await findPython({ env: process.env });
  const model = join(tmp, 'model');
  const w = Worker.start(python, workerPythonPath());
  await w.next();
  await w.send(load, 'loaded');
  await w.send({ type: 'save', path: model, checkpoint: false, step: 0 }, 'saved');
  w.close();
  const floor = (code: string) => {
    const t0 = performance.now();
    execFileSync(python, ['-c', code]);
    return (performance.now() - t0) / 1000;
  };
  const runs: Record<How, Times[]> = { before: [], after: [], 'after + spare': [] };
  const floors: Array<{ python: number; torch: number }> = [];
  const rounds = Number(opts.rounds);
  for (let i = 0; i < rounds; i++) {
    floors.push({ python: floor('pass'), torch: floor('import torch') });
    for (const how of i % 2 ? [...HOWS].reverse() : HOWS)
      runs[how].push(
        await restart(how, how === 'before' ? join(before, 'worker/python') : workerPythonPath(), model, i),
      );
    process.stderr.write(`round ${i + 1} of ${rounds} done\n`);
  }
  rmSync(tmp, { recursive: true, force: true });
  process.stderr.write(JSON.stringify({ runs, floors }) + '\n'); // the raw figures, whatever happens below
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const cell = (xs: number[]) => `${median(xs).toFixed(2)} (${xs.map((x) => x.toFixed(2)).join(', ')})`;
  const lines = [
    `# A torch worker's restart, by phase: ${opts.preset}`,
    '',
    `\`node --import tsx bench/worker-restart.ts --preset ${opts.preset} --rounds ${rounds} --before ${opts.before} ` +
      `--threads ${opts.threads} --out ${opts.out}\`, on ${availableParallelism()} cores shared with other jobs ` +
      `(load average ${loadavg()[0].toFixed(1)} at the end). Seconds: the median of ${rounds} rounds (each round's ` +
      'figures in brackets); before and after alternate within each round.',
    '',
    `- before: the worker of \`${opts.before}\`, the interpreter probed (a torch import) before every start, the`,
    '  model built with every weight drawn at random, then the saved weights restored over them;',
    '- after: this tree: the interpreter found once per process, `load` with `skip_init` (the restore replaces every',
    '  weight next);',
    `- after + spare: as after, with the worker process.ts starts at the loss, taken after the ${BACKOFF_MS} ms back-off.`,
    '',
    `Floors, measured each round: \`python -c pass\` ${cell(floors.map((f) => f.python))} s, ` +
      `\`python -c "import torch"\` ${cell(floors.map((f) => f.torch))} s.`,
    '',
    '| phase | before (s) | after (s) | after + spare (s) | after / before | after + spare / before |',
    '|---|---|---|---|---|---|',
    ...PHASES.map((p) => {
      const [b, a, s] = HOWS.map((h) => runs[h].map((r) => r[p]));
      const ratio = (x: number[]) => (median(b) > 0 ? (median(x) / median(b)).toFixed(2) : '–');
      return `| ${p} | ${cell(b)} | ${cell(a)} | ${cell(s)} | ${ratio(a)} | ${ratio(s)} |`;
    }),
    '',
  ];
  writeFileSync(opts.out!, lines.join('\n'));
  process.stdout.write(lines.join('\n'));
}

await main();
