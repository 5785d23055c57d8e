// Probes of issue 22, items 3–5: a run folder that cannot lie (a torn events line, a lock whose PID was reused), a
// fair server (Retry-After from the measured restart, a `__proto__` key) and the one-line errors of the smaller
// items. The built binary, the real worker and server; nothing mocked.
import { cpSync, existsSync, mkdirSync, readFileSync, appendFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { makeDeepkeProject } from '../../test/config/deepke-project.ts';
import { setup as deepkeSetup } from './deepke-lm.probes.ts';
import { runCopy, serve, workerPid } from './serve.probes.ts';
import type { Probe, ProbeResult } from './types.ts';

const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';
const oneLine = (s: string) => s.trim().split('\n').length === 1;
const noInternal = (s: string) => !s.includes('internal error') && !s.includes('    at ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
function startTicks(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

export const PROBES: Probe[] = [
  {
    item: '22.3',
    did: 'events.jsonl of a trained run gets a torn line (a write cut short by a full disk) with an event glued onto it, then a torn last line; `refit report`',
    expected: 'report.html written (exit 0); one note per skipped line on stderr; the glued event kept',
    async run(ctx) {
      const run = join(ctx.tmp, 'run');
      cpSync(await ctx.tinyRun(), run, { recursive: true });
      const events = join(run, 'events.jsonl');
      appendFileSync(events, '{"event":"step","step":99,"lo');
      appendFileSync(events, JSON.stringify({ event: 'resume', time: 'now', from_step: 1 }) + '\n');
      appendFileSync(events, '{"event":"run_end","sta');
      const r = await ctx.refit(['report', '--run', run]);
      const notes = r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('refit: note: '));
      const html = existsSync(join(run, 'report.html')) ? readFileSync(join(run, 'report.html'), 'utf8') : '';
      const ok =
        r.status === 0 &&
        notes.length === 2 &&
        html.includes('resumed from the step-1 checkpoint') &&
        noInternal(r.stderr);
      return { ok, happened: `exit ${r.status}; ${notes.length} notes: ${notes.join(' | ').slice(0, 300)}` };
    },
  },
  {
    item: '22.3',
    did: 'an --out whose .refit.lock names PID 1 (alive) of this boot and host, started at another time (a restarted container)',
    expected:
      'the lock is stale (the PID now names another process): the run trains, exit 0, lock gone afterwards',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      mkdirSync(out, { recursive: true });
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      writeFileSync(
        join(out, '.refit.lock'),
        JSON.stringify({
          pid: 1,
          host: hostname(),
          started: '2020-01-01T00:00:00Z',
          command: 'refit train',
          boot_id: boot,
          pid_start: String(Number(startTicks(1)) + 12345),
        }) + '\n',
      );
      const r = await ctx.refit(['train', ...ctx.tinyTrainArgs(), '--out', out]);
      const log = existsSync(join(out, 'refit.log')) ? readFileSync(join(out, 'refit.log'), 'utf8') : '';
      const ok =
        r.status === 0 && !existsSync(join(out, '.refit.lock')) && /pid 1 is now another process/.test(log);
      return {
        ok,
        happened: `exit ${r.status}${r.status ? `: ${firstLine(r.stderr)}` : ''}; lock left: ${existsSync(join(out, '.refit.lock'))}; logged: ${/stale lock/.test(log)}`,
      };
    },
  },
  {
    item: '22.4',
    did: '`kill -9` the torch worker of `refit serve` and poll /v1/predict until it answers again',
    expected:
      "the first 503's Retry-After is the measured start time (/v1/health last_start_s) plus the back-off, at least that start, and the worker is back within 1.5× it (a start under load varies; the old fixed 3 s was a third of it)",
    async run(ctx) {
      const s = await serve(ctx, await runCopy(ctx));
      const body = JSON.stringify({ text: 'Ann Lee founded Acme in Lisbon.', head: 'Acme', tail: 'Ann Lee' });
      const post = () =>
        fetch(`${s.url}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
      try {
        if ((await post()).status !== 200) return { ok: false, happened: 'the first prediction failed' };
        const measured = ((await (await fetch(`${s.url}/v1/health`)).json()) as any).worker
          .last_start_s as number;
        process.kill(workerPid(s.child), 'SIGKILL');
        const t0 = Date.now();
        let first: number | null = null;
        for (;;) {
          const r = await post();
          await r.text();
          if (r.status === 200) break;
          if (r.status === 503 && first === null) first = Number(r.headers.get('retry-after'));
          if (Date.now() - t0 > 90_000) return { ok: false, happened: 'not back within 90 s' };
          await sleep(100);
        }
        const back = (Date.now() - t0) / 1000;
        const ok = first !== null && first >= measured && back <= 1.5 * first;
        return {
          ok,
          happened: `start measured ${measured} s; first Retry-After ${first} s; back after ${back.toFixed(1)} s`,
        };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '22.5',
    did: 'POST /v1/predict a valid JSON body that also has a "__proto__" key',
    expected: 'answered like the same body without it (200 with a prediction), not "not valid JSON"',
    async run(ctx) {
      const s = await serve(ctx, await runCopy(ctx));
      try {
        const r = await fetch(`${s.url}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"text": "Ann Lee founded Acme in Lisbon.", "head": "Acme", "tail": "Ann Lee", "__proto__": {"x": 1}}',
        });
        const j = (await r.json()) as { relation?: string; error?: string };
        return {
          ok: r.status === 200 && !!j.relation,
          happened: `HTTP ${r.status}: ${j.relation ?? j.error}`,
        };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '22.5',
    did: '`refit train` with REFIT_PYTHON=/nonexistent',
    expected: 'exit 2, one line naming REFIT_PYTHON=/nonexistent; no other interpreter used in its place',
    async run(ctx) {
      const r = await ctx.refit(['train', ...ctx.tinyTrainArgs(), '--out', join(ctx.tmp, 'run')], {
        env: { REFIT_PYTHON: '/nonexistent' },
      });
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        r.stderr.includes('REFIT_PYTHON=/nonexistent') &&
        noInternal(r.stderr);
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}` };
    },
  },
  {
    item: '22.5',
    did: '`refit train model.num_hidden_layers=1000000` on the 2-layer bert-tiny preset',
    expected: 'exit 2, one line saying the model has 2 layers; nothing trained',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const r = await ctx.refit([
        'train',
        ...ctx.tinyTrainArgs(),
        'model.num_hidden_layers=1000000',
        '--out',
        out,
      ]);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        /has 2 encoder layers/.test(r.stderr) &&
        !existsSync(join(out, 'model'));
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr)}` };
    },
  },
  {
    item: '22.5',
    did: '`refit train -c` a DeepKE conf whose lm_file goes through a 3,000-deep chain of interpolations',
    expected: 'exit 2, one line naming the file and key; no internal error',
    async run(ctx) {
      const chain =
        Array.from({ length: 3000 }, (_, i) => `a${i}: \${a${i + 1}}\n`).join('') + 'a3000: /models/bert\n';
      const project = makeDeepkeProject(
        { 'model/lm.yaml': "model_name: lm\nlm_file: '${a0}'\n" + chain },
        ctx.tmp,
      );
      const r = await ctx.refit(['train', '-c', join(project, 'conf'), '--out', join(ctx.tmp, 'run')]);
      const ok = r.status === 2 && oneLine(r.stderr) && /lm_file uses/.test(r.stderr) && noInternal(r.stderr);
      return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr).slice(0, 240)}` };
    },
  },
];

/**
 * `refit import-deepke` of the sample LM checkpoint after `script` (python, argv: the checkpoint, the copy to write)
 * altered it: the command's result and where it would have imported to, or why the probe could not run.
 */
async function importAltered(
  ctx: Parameters<Probe['run']>[0],
  name: string,
  script: string,
): Promise<{ r: Awaited<ReturnType<typeof ctx.refit>>; out: string } | ProbeResult> {
  const s = await deepkeSetup(ctx);
  if (typeof s === 'string') return { ok: false, happened: `not run: ${s}` };
  const pth = join(ctx.tmp, name);
  const made = spawnSync(s.python, ['-c', script, s.pth, pth], { encoding: 'utf8' });
  if (made.status !== 0) return { ok: false, happened: `not run: ${made.stderr.trim().split('\n').pop()}` };
  const out = join(ctx.tmp, 'imported');
  const args = ['import-deepke', '--conf', s.conf, '--out', out, '--checkpoint', pth, `lm_file=${s.hf}`];
  return { r: await ctx.refit(args), out };
}

PROBES.push({
  item: '22.5',
  did: '`refit import-deepke` a matching LM checkpoint with one BERT weight deleted (the strict load refuses it)',
  expected: 'exit 2, one line naming the .pth given, not the temporary folder refit staged it in',
  async run(ctx) {
    const run = await importAltered(
      ctx,
      'lm_missing.pth',
      'import sys, torch; d = torch.load(sys.argv[1]); ' +
        'del d[[k for k in d if k.startswith("bert.encoder.layer.0.") and k.endswith("query.bias")][0]]; ' +
        'torch.save(d, sys.argv[2])',
    );
    if (!('r' in run)) return run;
    const { r } = run;
    const ok =
      r.status === 2 &&
      oneLine(r.stderr) &&
      r.stderr.includes('lm_missing.pth') &&
      !r.stderr.includes('.import-tmp-') &&
      noInternal(r.stderr);
    return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr).slice(0, 300)}` };
  },
});

PROBES.push({
  item: '22.5',
  did: '`refit import-deepke` a matching LM checkpoint whose LSTM recurrent weight has one column too many',
  expected: 'exit 2, one line naming the .pth, the weight and its shape (not "an unknown type")',
  async run(ctx) {
    const run = await importAltered(
      ctx,
      'lm_badhh.pth',
      'import sys, torch; d = torch.load(sys.argv[1]); w = d["bilstm.rnn.weight_hh_l0"]; ' +
        'd["bilstm.rnn.weight_hh_l0"] = torch.zeros(w.shape[0], w.shape[1] + 1); torch.save(d, sys.argv[2])',
    );
    if (!('r' in run)) return run;
    const { r, out } = run;
    const ok =
      r.status === 2 &&
      oneLine(r.stderr) &&
      /lm_badhh\.pth: bilstm\.rnn\.weight_hh_l0 has shape \[/.test(r.stderr) &&
      !r.stderr.includes('unknown type') &&
      !existsSync(out);
    return { ok, happened: `exit ${r.status}: ${firstLine(r.stderr).slice(0, 300)}` };
  },
});
