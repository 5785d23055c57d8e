// Probes of issue 22, items 3 and 5: a run folder that cannot lie about its checkpoints. A damaged last.json (each
// field missing, wrong types, not JSON), truncated / removed / garbled files in the newest and in every checkpoint,
// leftovers of a save cut short, the worker killed halfway through a save, refit itself killed -9 there. The built
// binary and the real worker; the damage is done to copies of the shared tiny run.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Probe, ProbeContext, ProbeResult } from './types.ts';

const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';
const lastLine = (s: string) => s.trim().split('\n').at(-1) ?? '';
const oneLine = (s: string) => s.trim().split('\n').length === 1;
const noInternal = (s: string) => !s.includes('internal error') && !s.includes('    at ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const events = (run: string): Array<Record<string, any>> =>
  readFileSync(join(run, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const resumedFrom = (run: string) =>
  events(run)
    .filter((e) => e.event === 'run_start')
    .at(-1)?.resumed_from_step;
const leftovers = (run: string) => readdirSync(join(run, 'checkpoints')).filter((f) => f.includes('.tmp-'));

/** A copy of the shared tiny run (1 epoch of 4 steps, finished) that the probe may damage and resume. */
async function copiedRun(ctx: ProbeContext, name = 'run'): Promise<string> {
  const out = join(ctx.tmp, name);
  cpSync(await ctx.tinyRun(), out, { recursive: true });
  return out;
}

const twoCheckpointRuns = new WeakMap<ProbeContext['tinyRun'], Promise<string>>();
/** A copy of the tiny run resumed for a second epoch: it keeps checkpoints/step-4 and step-8 (trained once). */
async function twoCheckpoints(ctx: ProbeContext): Promise<string> {
  let made = twoCheckpointRuns.get(ctx.tinyRun);
  if (!made) {
    made = (async () => {
      const out = await copiedRun(ctx, 'two-checkpoints');
      const r = await ctx.refit(['train', '--out', out, '--resume', 'train.epochs=2', '--threads', '1']);
      if (r.status !== 0) throw new Error(`the 2-epoch resume failed: ${lastLine(r.stderr)}`);
      return out;
    })();
    twoCheckpointRuns.set(ctx.tinyRun, made);
  }
  const out = join(ctx.tmp, 'run');
  cpSync(await made, out, { recursive: true });
  return out;
}

const truncate = (path: string) => writeFileSync(path, readFileSync(path).subarray(0, 1000));
const garble = (path: string) => writeFileSync(path, Buffer.from(readFileSync(path)).fill(0x55, 0, 400));

/** The newest checkpoint (step-8) damaged by `damage`: the resume falls back to step-4 with one warning. */
function newestDamaged(what: string, damage: (step8: string) => void, why: RegExp): Probe {
  return {
    item: '22.3',
    did: `a 2-epoch run whose newest checkpoint (step-8) has ${what}; \`refit train --out RUN --resume\``,
    expected:
      'exit 0: one warning naming step-8, why, and step-4, the newest complete checkpoint it resumes from; no internal error',
    sweep: true,
    async run(ctx) {
      const run = await twoCheckpoints(ctx);
      damage(join(run, 'checkpoints', 'step-8'));
      const r = await ctx.refit(['train', '--out', run, '--resume', '--threads', '1']);
      const warnings = r.stderr.split('\n').filter((l) => l.includes(' is damaged ('));
      const ok =
        r.status === 0 &&
        warnings.length === 1 &&
        why.test(warnings[0]) &&
        warnings[0].includes('refit: note: checkpoints/step-8 is damaged (') &&
        warnings[0].endsWith('; resuming from checkpoints/step-4, the newest complete checkpoint') &&
        resumedFrom(run) === 4 &&
        noInternal(r.stderr);
      return {
        ok,
        happened: `exit ${r.status}; ${warnings[0] ?? firstLine(r.stderr)}; resumed from ${resumedFrom(run)}`,
      };
    },
  };
}

/** `refit train --resume` on a copy of the tiny run whose last.json is `text`: one line (exit 2) matching `want`. */
async function resumeWithLast(
  ctx: ProbeContext,
  name: string,
  text: string,
): Promise<{ status: number; stderr: string }> {
  const run = await copiedRun(ctx, name);
  writeFileSync(join(run, 'checkpoints', 'last.json'), text);
  return ctx.refit(['train', '--out', run, '--resume', '--threads', '1']);
}

const LAST_FIELDS = [
  'step',
  'checkpoint',
  'examples_seen',
  'tokens_seen',
  'train_seconds',
  'peak_memory_bytes',
  'best',
  'bad_epochs',
  'stopped',
  'evals',
  'levers',
];

/** Waits for `pattern` in `file` (a refit.log) for up to `ms`; its first group, or null. */
async function untilLogged(file: string, pattern: RegExp, ms = 300_000): Promise<string | null> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(100)) {
    const m = existsSync(file) ? pattern.exec(readFileSync(file, 'utf8')) : null;
    if (m) return m[1];
  }
  return null;
}

export const PROBES: Probe[] = [
  {
    item: '22.5',
    did: 'last.json of a trained run without one of its fields, for each of its 11 fields; `--resume` each time',
    expected: 'exit 2 and one line naming last.json and the missing field every time; no internal error',
    // 11 runs of the binary: the fault suite's (test/run/checkpoints.test.ts checks each field in-process)
    sweep: true,
    async run(ctx) {
      const last = JSON.parse(readFileSync(join(await ctx.tinyRun(), 'checkpoints', 'last.json'), 'utf8'));
      const bad: string[] = [];
      for (const field of LAST_FIELDS) {
        const { [field]: _, ...rest } = last;
        const r = await resumeWithLast(ctx, `no-${field}`, JSON.stringify(rest));
        const line = firstLine(r.stderr);
        if (
          r.status !== 2 ||
          !line.includes(`last.json: field "${field}" is missing`) ||
          !noInternal(r.stderr)
        )
          bad.push(`${field}: exit ${r.status} ${line.slice(0, 120)}`);
      }
      return {
        ok: bad.length === 0,
        happened: bad.length ? bad.join(' | ') : `11 of 11: exit 2, the field named`,
      };
    },
  },
  {
    item: '22.5',
    did: 'last.json with wrong types: step "8", levers.micro_batch_size 0, best a string, checkpoint "../../etc"',
    expected: 'exit 2 and one line naming the field and what it must hold, each time; no internal error',
    async run(ctx) {
      const last = JSON.parse(readFileSync(join(await ctx.tinyRun(), 'checkpoints', 'last.json'), 'utf8'));
      const cases: Array<[string, Record<string, unknown>]> = [
        ['step', { step: '8' }],
        ['levers', { levers: { ...last.levers, micro_batch_size: 0 } }],
        ['best', { best: 'checkpoints/best-step-4' }],
        ['checkpoint', { checkpoint: '../../etc' }],
      ];
      const seen: string[] = [];
      let ok = true;
      for (const [field, over] of cases) {
        const r = await resumeWithLast(ctx, `bad-${field}`, JSON.stringify({ ...last, ...over }));
        const line = firstLine(r.stderr);
        ok &&= r.status === 2 && oneLine(r.stderr) && noInternal(r.stderr);
        ok &&= line.includes(`last.json: field "${field}" is `) && line.includes(', expected ');
        seen.push(`exit ${r.status}: ${line.replace(/^.*last\.json: /, '').slice(0, 90)}`);
      }
      return { ok, happened: seen.join(' | ') };
    },
  },
  {
    item: '22.5',
    did: 'last.json cut short mid-value (not JSON); `--resume`',
    expected:
      'exit 2, one line: last.json is not valid JSON, the run cannot be resumed, start again with --force',
    async run(ctx) {
      const r = await resumeWithLast(ctx, 'torn', '{"step": 4, "checkp');
      const line = firstLine(r.stderr);
      const ok =
        r.status === 2 &&
        /last\.json: not valid JSON \(.*\); the record of the run's last checkpoint is damaged/.test(line) &&
        line.includes('--force') &&
        noInternal(r.stderr);
      return { ok, happened: `exit ${r.status}: ${line.slice(0, 200)}` };
    },
  },
  {
    item: '22.3',
    did: 'every checkpoint of the run damaged (step-4: checkpoint.pt removed; step-8: model.safetensors truncated); `--resume`',
    expected:
      'exit 2, one line naming each checkpoint and what is wrong with it; nothing trained, no internal error',
    sweep: true,
    async run(ctx) {
      const run = await twoCheckpoints(ctx);
      rmSync(join(run, 'checkpoints', 'step-4', 'checkpoint.pt'));
      truncate(join(run, 'checkpoints', 'step-8', 'model.safetensors'));
      const r = await ctx.refit(['train', '--out', run, '--resume', '--threads', '1']);
      const line = firstLine(r.stderr);
      const ok =
        r.status === 2 &&
        line.includes(
          'no usable checkpoint to resume from (checkpoints/step-8: model.safetensors is truncated',
        ) &&
        line.includes('checkpoints/step-4: checkpoint.pt is missing') &&
        noInternal(r.stderr);
      return { ok, happened: `exit ${r.status}: ${line.replace(run, 'RUN').slice(0, 260)}` };
    },
  },
  {
    item: '22.3',
    did: 'the only checkpoint of a run (step-4) with a truncated checkpoint.pt; `--resume`',
    expected: 'exit 2, one line: no usable checkpoint, step-4 named with why, start again with --force',
    async run(ctx) {
      const run = await copiedRun(ctx);
      truncate(join(run, 'checkpoints', 'step-4', 'checkpoint.pt'));
      const r = await ctx.refit(['train', '--out', run, '--resume', '--threads', '1']);
      const line = firstLine(r.stderr);
      const ok =
        r.status === 2 &&
        line.includes(
          'no usable checkpoint to resume from (checkpoints/step-4: checkpoint.pt is truncated',
        ) &&
        noInternal(r.stderr);
      return { ok, happened: `exit ${r.status}: ${line.replace(run, 'RUN').slice(0, 260)}` };
    },
  },
  {
    item: '22.3',
    did: 'a run folder with leftovers of a save cut short (checkpoints/.tmp-step-8 half written, last.json.tmp-999); `--resume`',
    expected: 'exit 0; both removed (and named in refit.log); the run resumes from its step-4 checkpoint',
    async run(ctx) {
      const run = await copiedRun(ctx);
      const ck = join(run, 'checkpoints');
      cpSync(join(ck, 'step-4'), join(ck, '.tmp-step-8'), { recursive: true });
      rmSync(join(ck, '.tmp-step-8', 'checkpoint.pt'));
      writeFileSync(join(ck, 'last.json.tmp-999'), '{"step"');
      const r = await ctx.refit(['train', '--out', run, '--resume', '--threads', '1']);
      const logged = /removed what an interrupted checkpoint save left in checkpoints\/: (.*)/.exec(
        readFileSync(join(run, 'refit.log'), 'utf8'),
      )?.[1];
      const ok = r.status === 0 && leftovers(run).length === 0 && !!logged && resumedFrom(run) === 4;
      return {
        ok,
        happened: `exit ${r.status}; left: [${leftovers(run).join(', ')}]; logged: ${logged ?? 'nothing'}`,
      };
    },
  },
  newestDamaged(
    'a truncated checkpoint.pt',
    (d) => truncate(join(d, 'checkpoint.pt')),
    /checkpoint\.pt is truncated/,
  ),
  newestDamaged(
    'no model.safetensors',
    (d) => rmSync(join(d, 'model.safetensors')),
    /model\.safetensors is missing/,
  ),
  newestDamaged(
    'a garbled checkpoint.pt (its first 400 bytes overwritten, the size kept)',
    (d) => garble(join(d, 'checkpoint.pt')),
    // the checkpoint's manifest tells (its SHA-256); without one, torch does
    /checkpoint\.pt(: its SHA-256 differs from the manifest's|: damaged checkpoint, torch cannot read it)/,
  ),
  newestDamaged(
    'a truncated model.safetensors',
    (d) => {
      const f = join(d, 'model.safetensors');
      const b = readFileSync(f);
      writeFileSync(f, b.subarray(0, b.length - 100));
    },
    /model\.safetensors is truncated/,
  ),
  {
    item: '22.3',
    did: 'the torch worker dies (exit 137, as kill -9) halfway through saving the step-8 checkpoint (REFIT_INJECT_SAVE_CRASH=8) of a 2-epoch run',
    expected:
      'the run restarts the worker from step-4 and finishes (exit 0); no temporary folder left, no partial step-8',
    sweep: true,
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const r = await ctx.refit(['train', ...ctx.tinyTrainArgs(), 'train.epochs=2', '--out', out], {
        env: { REFIT_INJECT_SAVE_CRASH: '8' },
      });
      const restart = events(out).find((e) => e.event === 'restart');
      const ok =
        r.status === 0 && restart?.resume_step === 4 && leftovers(out).length === 0 && noInternal(r.stderr);
      return {
        ok,
        happened: `exit ${r.status}; restart from step ${restart?.resume_step}; left: [${leftovers(out).join(', ')}]`,
      };
    },
  },
  {
    item: '22.3',
    did: 'refit and its worker killed -9 halfway through saving the step-8 checkpoint (REFIT_INJECT_SAVE_HANG=8 holds the save there); then `--resume`',
    expected:
      'no checkpoints/step-8 (only .tmp-step-8, half written), last.json still names step-4; the resume removes the leftover and finishes from step 4 (exit 0)',
    sweep: true,
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      mkdirSync(out, { recursive: true });
      const child = ctx.spawnRefit(['train', ...ctx.tinyTrainArgs(), 'train.epochs=2', '--out', out], {
        env: { REFIT_INJECT_SAVE_HANG: '8' },
      });
      const closed = new Promise((done) => child.on('close', done));
      const pid = await untilLogged(join(out, 'refit.log'), /worker\[(\d+)\] .*REFIT_INJECT_SAVE_HANG/);
      child.kill('SIGKILL');
      if (pid) process.kill(Number(pid), 'SIGKILL');
      await closed;
      if (!pid) return { ok: false, happened: 'the worker never reached the step-8 save' };
      const ck = join(out, 'checkpoints');
      const half = existsSync(join(ck, '.tmp-step-8'))
        ? readdirSync(join(ck, '.tmp-step-8')).join('+')
        : 'none';
      const final8 = existsSync(join(ck, 'step-8'));
      const named = JSON.parse(readFileSync(join(ck, 'last.json'), 'utf8')).checkpoint;
      const r = await ctx.refit(['train', '--out', out, '--resume', '--threads', '1']);
      const ok =
        !final8 &&
        named === 'checkpoints/step-4' &&
        r.status === 0 &&
        resumedFrom(out) === 4 &&
        leftovers(out).length === 0;
      return {
        ok,
        happened: `after the kill: step-8 ${final8 ? 'exists' : 'absent'}, .tmp-step-8 holds ${half}, last.json names ${named}; resume exit ${r.status} from step ${resumedFrom(out)}, left: [${leftovers(out).join(', ')}]`,
      };
    },
  },
];
