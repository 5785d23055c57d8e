// Probes of training and prediction under faults (issue 10, items 6–9, 11, 12): resume overrides, two trains on one
// folder, Ctrl-C / SIGTERM, resumed events, unwritable or wrong-kind paths, a full disk, corrupt weights, and sizes
// that must be refused before memory is spent. Everything runs the built binary with the real worker (and server).
import { execFileSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Probe, ProbeContext, ProbeResult } from './types.ts';

const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';
const oneLine = (s: string) => s.trim().split('\n').length === 1;
const noInternal = (s: string) => !s.includes('internal error') && !s.includes('    at ');
const events = (run: string): Array<Record<string, any>> =>
  existsSync(join(run, 'events.jsonl'))
    ? readFileSync(join(run, 'events.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
/** The data model embedded in a run's report.html (null without one). */
function reportModel(run: string): { status?: string; steps?: { step?: number[] } } | null {
  const f = join(run, 'report.html');
  if (!existsSync(f)) return null;
  const m = /<script id="report-data" type="application\/json">([\s\S]*?)<\/script>/.exec(
    readFileSync(f, 'utf8'),
  );
  return m ? JSON.parse(m[1]) : null;
}
/** The path a tinyTrainArgs key=value names. */
const tinyPath = (ctx: ProbeContext, key: string) =>
  ctx
    .tinyTrainArgs()
    .find((a) => a.startsWith(`${key}=`))!
    .slice(key.length + 1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `run`'s events.jsonl holds a `step` event (or `ms` pass). */
async function untilStep(run: string, ms = 60_000): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(50))
    if (events(run).some((e) => e.event === 'step')) return true;
  return false;
}

/** Resolves with the exit code (or 128 + signal number) and stderr of a spawned refit. */
function finished(
  child: ChildProcess,
): Promise<{ status: number; signal: string | null; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (d) => (stderr += d));
  child.stdout?.on('data', (d) => (stdout += d));
  return new Promise((done) =>
    child.on('close', (code, signal) =>
      done({
        status: code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1),
        signal,
        stderr,
        stdout,
      }),
    ),
  );
}

/** A training of `args` into `out`, once its first step is recorded; null (the process killed) when none came. */
async function trainingAtStep(ctx: ProbeContext, out: string, args: string[]) {
  const child = ctx.spawnRefit(['train', ...args, '--out', out]);
  const done = finished(child);
  if (await untilStep(out)) return { child, done };
  child.kill('SIGKILL');
  await done;
  return null;
}

const NO_STEP: ProbeResult = { ok: false, happened: 'no step within 60 s' };

/** A run of many short epochs (so it is still training when signalled), no early stop. */
const longArgs = (ctx: ProbeContext, epochs = 6) => [
  ...ctx.tinyTrainArgs(),
  `train.epochs=${epochs}`,
  'train.early_stopping_patience=0',
];

/** Mounts a tmpfs of `size` at `dir` (ro after creation when asked); false where mounting is not permitted. */
function mountTmpfs(dir: string, size: string, ro = false): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    if (ro) execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    /* not mounted */
  }
}
/** Writes `file` until the disk is full (ENOSPC). */
function fillDisk(file: string): void {
  const fd = openSync(file, 'w');
  const mib = Buffer.alloc(2 ** 20, 1);
  try {
    for (;;) writeSync(fd, mib);
  } catch {
    /* ENOSPC: full */
  } finally {
    closeSync(fd);
  }
}
const SKIP_MOUNT = (what: string): ProbeResult => ({
  ok: true,
  happened: `skipped: mount is not permitted here (${what} needs a tmpfs)`,
});

/** A copy of the shared tiny run (tinyTrainArgs, 1 epoch, its checkpoint kept) that this probe may resume or change. */
async function copiedRun(ctx: ProbeContext, name = 'run'): Promise<string> {
  const out = join(ctx.tmp, name);
  cpSync(await ctx.tinyRun(), out, { recursive: true });
  return out;
}

/** A copy of the shared tiny run's model folder with its model.safetensors changed by `damage`. */
async function damagedModel(ctx: ProbeContext, damage: (bytes: Buffer) => Buffer): Promise<string> {
  const run = await ctx.tinyRun();
  const dir = join(ctx.tmp, 'damaged');
  cpSync(join(run, 'model'), join(dir, 'model'), { recursive: true });
  const file = join(dir, 'model', 'model.safetensors');
  writeFileSync(file, damage(readFileSync(file)));
  return dir;
}

function refusedResume(key: string, value: string, stored: RegExp): Probe {
  return {
    item: '6',
    did: `\`refit train --out RUN --resume ${key}=${value}\` on a run started otherwise`,
    expected: 'exit 2, one line naming the key, the stored value and --force; no new events',
    async run(ctx) {
      const run = await copiedRun(ctx);
      const before = events(run).length;
      const r = await ctx.refit([
        'train',
        '--out',
        run,
        '--resume',
        `${key}=${value}`,
        '--progress',
        'plain',
      ]);
      const line = firstLine(r.stderr);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        line.includes(key) &&
        stored.test(line) &&
        line.includes('--force') &&
        events(run).length === before;
      return { ok, happened: `exit ${r.status}: ${line}` };
    },
  };
}

export const PROBES: Probe[] = [
  refusedResume('train.batch_size', '8', /started with 16\b/),
  refusedResume('train.seed', '99', /started with 42\b/),
  refusedResume('train.learning_rate', '0.5', /started with 0\.001\b/),
  refusedResume('memory.max_seq_len', '32', /started with 64\b/),
  {
    item: '6',
    did: '`--resume train.epochs=2` on a 1-epoch run (a safe override)',
    sweep: true,
    expected:
      'exit 0; config.yaml says 2 epochs, run_start plans 8 steps, 8 steps trained, a resume event records the change',
    async run(ctx) {
      const run = await copiedRun(ctx);
      const r = await ctx.refit([
        'train',
        '--out',
        run,
        '--resume',
        'train.epochs=2',
        '--progress',
        'plain',
        '--threads',
        '1',
      ]);
      const ev = events(run);
      const start = ev.filter((e) => e.event === 'run_start').at(-1);
      const resume = ev.find((e) => e.event === 'resume');
      const metrics = existsSync(join(run, 'metrics.json'))
        ? JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'))
        : {};
      const yaml = readFileSync(join(run, 'config.yaml'), 'utf8');
      const ok =
        r.status === 0 &&
        /^\s+epochs: 2$/m.test(yaml) &&
        start?.total_steps === 8 &&
        metrics.train?.optimizer_steps === 8 &&
        /train\.epochs 1 → 2/.test(String(resume?.changed));
      return {
        ok,
        happened: `exit ${r.status}; config epochs ${/^\s+epochs: (\d+)/m.exec(yaml)?.[1]}, run_start total ${start?.total_steps}, trained ${metrics.train?.optimizer_steps}, resume: ${resume?.changed ?? 'none'}${r.status ? `; ${firstLine(r.stderr)}` : ''}`,
      };
    },
  },
  {
    item: '7',
    did: 'two `refit train` on the same new --out started together',
    sweep: true,
    expected:
      'one trains (exit 0), the other is refused with one line naming the holder (exit 1); one run_start in events.jsonl',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const args = ['train', ...ctx.tinyTrainArgs(), '--out', out];
      const [a, b] = await Promise.all([ctx.refit(args), ctx.refit(args)]);
      const loser = a.status === 0 ? b : a;
      const starts = events(out).filter((e) => e.event === 'run_start').length;
      const ok =
        [a.status, b.status].sort().join(',') === '0,1' &&
        oneLine(loser.stderr) &&
        /already writing this run folder/.test(loser.stderr) &&
        /pid \d+/.test(loser.stderr) &&
        starts === 1;
      return {
        ok,
        happened: `exits ${a.status} and ${b.status}; refused: ${firstLine(loser.stderr)}; ${starts} run_start`,
      };
    },
  },
  {
    item: '7',
    did: 'a stale lock (dead PID) left in an empty --out',
    sweep: true,
    expected: 'the stale lock is taken over and the run trains (exit 0); the lock is gone afterwards',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      mkdirSync(out, { recursive: true });
      const dead = Number(
        execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString(),
      );
      writeFileSync(
        join(out, '.refit.lock'),
        JSON.stringify({
          pid: dead,
          host: (await import('node:os')).hostname(),
          started: '2020-01-01T00:00:00Z',
          command: 'refit train',
        }) + '\n',
      );
      const r = await ctx.refit(['train', ...ctx.tinyTrainArgs(), '--out', out]);
      const ok = r.status === 0 && !existsSync(join(out, '.refit.lock'));
      return {
        ok,
        happened: `exit ${r.status}${r.status ? `: ${firstLine(r.stderr)}` : ''}; lock left: ${existsSync(join(out, '.refit.lock'))}`,
      };
    },
  },
  {
    item: '8',
    did: 'SIGINT once during training, then `--resume`',
    sweep: true,
    expected:
      'exit 130, a line saying how to resume, run_end status interrupted with the kept checkpoint; the resume finishes (exit 0)',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const started = await trainingAtStep(ctx, out, [...longArgs(ctx)]);
      if (!started) return NO_STEP;
      const { child, done } = started;
      child.kill('SIGINT');
      const r = await done;
      const end = events(out).at(-1);
      const resumed = await ctx.refit(['train', '--out', out, '--resume', '--threads', '1']);
      const ok =
        r.status === 130 &&
        /resume with: refit train --out .* --resume/.test(r.stderr) &&
        end?.event === 'run_end' &&
        end.status === 'interrupted' &&
        typeof end.checkpoint_step === 'number' &&
        existsSync(join(out, 'checkpoints', 'last.json')) &&
        !existsSync(join(out, '.refit.lock')) &&
        resumed.status === 0;
      return {
        ok,
        happened: `exit ${r.status}: ${r.stderr.trim().split('\n').at(-1)}; run_end ${end?.status} (checkpoint ${end?.checkpoint_step}); resume exit ${resumed.status}`,
      };
    },
  },
  {
    item: '8',
    did: 'SIGTERM once during training',
    sweep: true,
    expected: 'exit 143 and run_end status interrupted (the report no longer says running)',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const started = await trainingAtStep(ctx, out, [...longArgs(ctx, 40)]);
      if (!started) return NO_STEP;
      const { child, done } = started;
      child.kill('SIGTERM');
      const r = await done;
      const end = events(out).at(-1);
      const status = reportModel(out)?.status;
      const ok = r.status === 143 && end?.status === 'interrupted' && status === 'interrupted';
      return { ok, happened: `exit ${r.status}; run_end ${end?.status}; report status ${status}` };
    },
  },
  {
    item: '8',
    did: 'SIGINT twice during training (0.2 s apart)',
    sweep: true,
    expected: 'stops at once (within 3 s of the second), run_end interrupted recorded, the lock removed',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const started = await trainingAtStep(ctx, out, [...longArgs(ctx, 40)]);
      if (!started) return NO_STEP;
      const { child, done } = started;
      child.kill('SIGINT');
      await sleep(200);
      const t0 = Date.now();
      child.kill('SIGINT');
      const r = await done;
      const s = (Date.now() - t0) / 1000;
      const end = events(out).at(-1);
      const ok =
        s < 3 &&
        (r.status === 130 || r.signal === 'SIGINT') &&
        end?.status === 'interrupted' &&
        !existsSync(join(out, '.refit.lock'));
      return {
        ok,
        happened: `gone ${s.toFixed(1)} s after the second SIGINT (${r.signal ?? `exit ${r.status}`}); run_end ${end?.status}; lock left: ${existsSync(join(out, '.refit.lock'))}`,
      };
    },
  },
  {
    item: '8',
    did: 'SIGINT before the first step (while the worker starts)',
    sweep: true,
    expected: 'exit 130 and no run folder left behind (nothing was trained)',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const child = ctx.spawnRefit(['train', ...longArgs(ctx), '--out', out]);
      const done = finished(child);
      for (const t0 = Date.now(); !existsSync(join(out, 'refit.log')) && Date.now() - t0 < 30_000;)
        await sleep(20);
      child.kill('SIGINT');
      const r = await done;
      const trained = events(out).some((e) => e.event === 'step');
      const ok = r.status === 130 && (trained || !existsSync(out)) && /interrupted/.test(r.stderr);
      return {
        ok,
        happened: `exit ${r.status}: ${r.stderr.trim().split('\n').at(-1)}; folder left: ${existsSync(out)}${trained ? ' (a step had finished)' : ''}`,
      };
    },
  },
  {
    item: '9',
    did: 'refit killed (SIGKILL) at step 6 of a 4-step-epoch run, `--resume` (replays steps 5–6 from the step-4 checkpoint), then the report and `refit serve` GET /v1/run',
    sweep: true,
    expected: 'events.jsonl only grows (a resume event), and the report and /v1/run show every step once',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const started = await trainingAtStep(ctx, out, [...longArgs(ctx), 'train.epochs=3']);
      if (!started) return NO_STEP;
      const { child, done } = started;
      // Let a few steps pass the step-4 epoch-end checkpoint, so steps after it are replayed.
      for (
        const t0 = Date.now();
        events(out).filter((e) => e.event === 'step').length < 6 && Date.now() - t0 < 30_000;
      )
        await sleep(20);
      child.kill('SIGKILL');
      await done;
      const before = readFileSync(join(out, 'events.jsonl'), 'utf8');
      const r = await ctx.refit(['train', '--out', out, '--resume', '--threads', '1']);
      const after = readFileSync(join(out, 'events.jsonl'), 'utf8');
      const raw = events(out)
        .filter((e) => e.event === 'step')
        .map((e) => e.step);
      const reportSteps: number[] = reportModel(out)?.steps?.step ?? [];
      const server = ctx.spawnRefit(['serve', '--run', out, '--port', '0']);
      let apiSteps: number[] = [];
      try {
        let url = '';
        server.stdout!.on('data', (d) => {
          url ||= /http:\/\/[\d.:]+/.exec(String(d))?.[0] ?? '';
        });
        for (const t0 = Date.now(); !url && Date.now() - t0 < 60_000;) await sleep(50);
        const body = (await (await fetch(`${url}/v1/run`)).json()) as {
          events: Array<{ event: string; step?: number }>;
        };
        apiSteps = body.events.filter((e) => e.event === 'step').map((e) => e.step!);
      } finally {
        server.kill('SIGTERM');
      }
      const once = (xs: number[]) =>
        xs.length > 0 && new Set(xs).size === xs.length && xs.every((x, i) => x === i + 1);
      const ok =
        r.status === 0 &&
        after.startsWith(before) &&
        after.includes('"event":"resume"') &&
        raw.length > 12 &&
        !existsSync(join(out, '.refit.lock')) &&
        reportSteps.length === 12 &&
        once(reportSteps) &&
        apiSteps.length === 12 &&
        once(apiSteps);
      return {
        ok,
        happened: `resume exit ${r.status}; ${raw.length} step lines in events.jsonl (append-only: ${after.startsWith(before)}); report shows ${reportSteps.length} steps, /v1/run ${apiSteps.length}, each once: ${once(reportSteps) && once(apiSteps)}`,
      };
    },
  },
  {
    item: '11',
    did: '`--out` an existing file',
    expected: 'exit 2, one line naming the path, nothing written',
    async run(ctx) {
      const f = join(ctx.tmp, 'afile');
      writeFileSync(f, 'x');
      const r = await ctx.refit(['train', ...ctx.tinyTrainArgs(), '--out', f]);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        r.stderr.includes(f) &&
        noInternal(r.stderr) &&
        readFileSync(f, 'utf8') === 'x';
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}` };
    },
  },
  {
    item: '11',
    did: '`--out` under an existing file (FILE/run)',
    expected: 'exit 2, one line naming the file in the way',
    async run(ctx) {
      const f = join(ctx.tmp, 'afile');
      writeFileSync(f, 'x');
      const r = await ctx.refit(['train', ...ctx.tinyTrainArgs(), '--out', join(f, 'run')]);
      const ok =
        r.status === 2 && oneLine(r.stderr) && r.stderr.includes(`${f} is a file`) && noInternal(r.stderr);
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}` };
    },
  },
  {
    item: '11',
    did: '`--out` on a read-only mount',
    expected: 'exit 1, one line naming the path and "read-only", checked before any data is encoded',
    async run(ctx) {
      const mnt = join(ctx.tmp, 'ro');
      if (!mountTmpfs(mnt, '4m', true)) return SKIP_MOUNT('a read-only folder');
      try {
        const r = await ctx.refit(['train', ...ctx.tinyTrainArgs(), '--out', join(mnt, 'run')]);
        const ok =
          r.status === 1 &&
          oneLine(r.stderr) &&
          r.stderr.includes(mnt) &&
          /read-only/.test(r.stderr) &&
          noInternal(r.stderr);
        return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}` };
      } finally {
        unmount(mnt);
      }
    },
  },
  {
    item: '11',
    did: '`--out` on a full disk (a 1 MiB tmpfs)',
    expected: 'exit 1, one line with the free and needed space, no run folder left',
    async run(ctx) {
      const mnt = join(ctx.tmp, 'full');
      if (!mountTmpfs(mnt, '1m')) return SKIP_MOUNT('a full disk');
      try {
        const r = await ctx.refit(['train', ...ctx.tinyTrainArgs(), '--out', join(mnt, 'run')]);
        const ok =
          r.status === 1 &&
          oneLine(r.stderr) &&
          r.stderr.includes(join(mnt, 'run')) &&
          /free/.test(r.stderr) &&
          !existsSync(join(mnt, 'run'));
        return {
          ok,
          happened: `exit ${r.status}: ${firstLine(r.stderr)}; folder left: ${existsSync(join(mnt, 'run'))}`,
        };
      } finally {
        unmount(mnt);
      }
    },
  },
  {
    item: '11',
    did: 'the disk of --out (a 64 MiB tmpfs) filled up after the first step, so the next checkpoint cannot be written',
    sweep: true,
    expected: 'exit 1, one line naming a path on that disk and "no space" (never "internal error")',
    async run(ctx) {
      const mnt = join(ctx.tmp, 'disk');
      if (!mountTmpfs(mnt, '64m')) return SKIP_MOUNT('a disk that fills up');
      try {
        const out = join(mnt, 'run');
        const started = await trainingAtStep(ctx, out, [...longArgs(ctx)]);
        if (!started) return NO_STEP;
        const { child, done } = started;
        fillDisk(join(mnt, 'filler'));
        const r = await done;
        const line = firstLine(r.stderr);
        const ok =
          r.status === 1 &&
          oneLine(r.stderr) &&
          line.includes(mnt) &&
          /no space/.test(line) &&
          noInternal(r.stderr);
        return { ok, happened: `exit ${r.status}: ${line}` };
      } finally {
        await sleep(500); // the worker lets go of its files
        unmount(mnt);
      }
    },
  },
  {
    item: '11',
    did: 'the encoded-data cache (REFIT_CACHE) on a full 4 KiB tmpfs: ENOSPC while writing',
    expected: 'exit 1, one line naming the cache file and "no space", no run folder left',
    async run(ctx) {
      const mnt = join(ctx.tmp, 'full');
      if (!mountTmpfs(mnt, '4k')) return SKIP_MOUNT('a full disk');
      try {
        const out = join(ctx.tmp, 'run');
        const r = await ctx.refit(['train', ...ctx.tinyTrainArgs(), '--out', out], {
          env: { REFIT_CACHE: join(mnt, 'cache') },
        });
        const ok =
          r.status === 1 &&
          oneLine(r.stderr) &&
          r.stderr.includes(mnt) &&
          /no space/.test(r.stderr) &&
          noInternal(r.stderr) &&
          !existsSync(out);
        return {
          ok,
          happened: `exit ${r.status}: ${firstLine(r.stderr)}; run folder left: ${existsSync(out)}`,
        };
      } finally {
        unmount(mnt);
      }
    },
  },
  {
    item: '11',
    did: 'train with no REFIT_CACHE (XDG_CACHE_HOME set): where the encoded data goes',
    sweep: true,
    expected: 'in $XDG_CACHE_HOME/refit, nothing beside the run folder',
    async run(ctx) {
      const xdg = join(ctx.tmp, 'xdg');
      const parent = join(ctx.tmp, 'runs');
      const r = await ctx.refit(['train', ...ctx.tinyTrainArgs(), '--out', join(parent, 'run')], {
        env: { REFIT_CACHE: undefined, XDG_CACHE_HOME: xdg },
      });
      const beside = existsSync(parent) ? readdirSync(parent) : [];
      const cached = existsSync(join(xdg, 'refit')) ? readdirSync(join(xdg, 'refit')).length : 0;
      const ok = r.status === 0 && beside.join() === 'run' && cached > 0;
      return {
        ok,
        happened: `exit ${r.status}; beside the run: [${beside.join(', ')}]; ${cached} files in $XDG_CACHE_HOME/refit`,
      };
    },
  },
  {
    item: '11',
    did: '`refit eval` on a run whose model.safetensors is truncated to 20 000 bytes',
    expected: 'exit 2, one line naming the file and that it is truncated',
    async run(ctx) {
      const dir = await damagedModel(ctx, (b) => b.subarray(0, 20_000));
      const r = await ctx.refit(['eval', '--run', dir, '--data', tinyPath(ctx, 'data.test')]);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        r.stderr.includes(join(dir, 'model', 'model.safetensors')) &&
        /truncated/.test(r.stderr);
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}` };
    },
  },
  {
    item: '11',
    did: '`refit predict` on a model.safetensors whose header length is 10^12',
    expected:
      'exit 2, one line naming the file and what is wrong (its SHA-256 against the manifest, or the header length)',
    async run(ctx) {
      const dir = await damagedModel(ctx, (b) => {
        const c = Buffer.from(b);
        c.writeBigUInt64LE(10n ** 12n, 0);
        return c;
      });
      const r = await ctx.refit(['predict', '--run', dir, '--text', 'a b', '--head', 'a', '--tail', 'b']);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        r.stderr.includes('model.safetensors') &&
        /header length|SHA-256 differs from the manifest/.test(r.stderr);
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}` };
    },
  },
  {
    item: '11',
    did: 'train from model.pretrained whose model.safetensors header is garbled JSON',
    expected: 'exit 2, one line naming the file, checked before the worker starts; no run folder',
    async run(ctx) {
      const dir = await damagedModel(ctx, (b) => {
        const c = Buffer.from(b);
        c.write('#!@x', 8);
        return c;
      });
      const out = join(ctx.tmp, 'run');
      const args = ctx.tinyTrainArgs().filter((a) => !a.startsWith('model.'));
      const r = await ctx.refit(['train', ...args, `model.pretrained=${join(dir, 'model')}`, '--out', out]);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        r.stderr.includes(join(dir, 'model', 'model.safetensors')) &&
        /not valid JSON/.test(r.stderr) &&
        !existsSync(out);
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}; folder left: ${existsSync(out)}` };
    },
  },
  {
    item: '11',
    did: '`refit predict --output` an existing folder',
    expected: 'exit 2, one line naming the folder, before the model is loaded',
    async run(ctx) {
      const run = await ctx.tinyRun();
      const r = await ctx.refit([
        'predict',
        '--run',
        run,
        '--text',
        'a b',
        '--head',
        'a',
        '--tail',
        'b',
        '--output',
        ctx.tmp,
      ]);
      const ok =
        r.status === 2 && oneLine(r.stderr) && r.stderr.includes(ctx.tmp) && /is a folder/.test(r.stderr);
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}` };
    },
  },
  {
    item: '12',
    did: 'model.pretrained whose config.json says num_hidden_layers: 1000000',
    expected: 'exit 2 in seconds, one line naming config.json and the bound; no run folder',
    async run(ctx) {
      const run = await ctx.tinyRun();
      const dir = join(ctx.tmp, 'huge');
      cpSync(join(run, 'model'), dir, { recursive: true });
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 1_000_000 }));
      const out = join(ctx.tmp, 'run');
      const t0 = Date.now();
      const r = await ctx.refit(
        [
          'train',
          ...ctx.tinyTrainArgs().filter((a) => !a.startsWith('model.')),
          `model.pretrained=${dir}`,
          '--out',
          out,
        ],
        { timeoutMs: 60_000 },
      );
      const s = (Date.now() - t0) / 1000;
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        r.stderr.includes(join(dir, 'config.json')) &&
        /num_hidden_layers 1000000/.test(r.stderr) &&
        s < 20 &&
        !existsSync(out);
      return { ok, happened: `exit ${r.status} after ${s.toFixed(1)} s: ${firstLine(r.stderr)}` };
    },
  },
  {
    item: '12',
    did: '`train.batch_size=1e12` on 64 training examples',
    expected: 'exit 2, one line with the batch and the 64 examples',
    async run(ctx) {
      const r = await ctx.refit([
        'train',
        ...ctx.tinyTrainArgs(),
        'train.batch_size=1e12',
        '--out',
        join(ctx.tmp, 'run'),
      ]);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        /1000000000000/.test(r.stderr) &&
        /64 training examples/.test(r.stderr);
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}` };
    },
  },
  {
    item: '12',
    did: '`memory.max_seq_len=2048` on a 512-position model (bert-tiny)',
    expected: 'exit 2 before any step, one line naming the 512 positions',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const r = await ctx.refit(['train', ...ctx.tinyTrainArgs(), 'memory.max_seq_len=2048', '--out', out]);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        /2048/.test(r.stderr) &&
        /512 positions/.test(r.stderr) &&
        !existsSync(out);
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}` };
    },
  },
  {
    item: '12',
    did: 'bert-large, 64 × 512 tokens, memory.mode=manual on CPU (far above the host RAM)',
    expected: 'exit 2 before the model is built, one line with the planned GiB and the RAM; no run folder',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const r = await ctx.refit([
        'train',
        ...ctx.tinyTrainArgs(),
        'model.preset=bert-large',
        'memory.max_seq_len=512',
        'memory.padding=max',
        'train.batch_size=64',
        'memory.mode=manual',
        '--out',
        out,
      ]);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        /planned at [\d.]+ GiB/.test(r.stderr) &&
        /RAM/.test(r.stderr) &&
        !existsSync(out);
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}` };
    },
  },
];
