// Probes of issue 22, items 1–2: a run folder that cannot lie. Model folders changed in ways the tests do not try
// (a byte flipped mid-file, two vocabulary tokens swapped at equal size, a renamed relation, half a graph), with
// predict, eval, export and serve (start and hot reload); resume after the data, the relation list, config.yaml or
// a checkpoint changed, and --force. The built binary, the real worker and server; nothing mocked.
import {
  appendFileSync,
  cpSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { runCopy, serve } from './serve.probes.ts';
import type { Probe, ProbeContext } from './types.ts';

const PREDICT = ['--text', 'Ann Lee was born in Porto.', '--head', 'Ann Lee', '--tail', 'Porto'];
const ITEM = { text: 'Ann Lee was born in Porto.', head: 'Ann Lee', tail: 'Porto' };
const first = (s: string) => s.trim().split('\n')[0] ?? '';
const clean = (s: string) => !s.includes('internal error') && !s.includes('    at ');

/** exit 2 and one line on stderr that names `file` and says what differs (`what`). */
function oneLine(r: { status: number; stdout: string; stderr: string }, file: string, what: RegExp) {
  const line = first(r.stderr);
  return {
    ok:
      r.status === 2 &&
      r.stdout === '' &&
      r.stderr.trim().split('\n').length === 1 &&
      line.includes(`/${file}: `) &&
      what.test(line) &&
      clean(r.stderr),
    happened: `exit ${r.status}: ${line}`,
  };
}

/** Flips one byte in the middle of a file (same size). */
function flipMiddle(path: string): void {
  const b = readFileSync(path);
  b[b.length >> 1] ^= 0xff;
  writeFileSync(path, b);
}

/** Swaps two tokens of a vocab.txt of the same length: same size, same count, other ids. */
function swapTokens(path: string): void {
  const lines = readFileSync(path, 'utf8').split('\n');
  const i = lines.findIndex((l, k) => k > 100 && l.length === 4);
  const j = lines.findIndex((l, k) => k > i && l.length === 4);
  [lines[i], lines[j]] = [lines[j], lines[i]];
  writeFileSync(path, lines.join('\n'));
}

/** A run of its own (its own data copy, so the probe may change the data), trained with the tiny arguments. */
async function ownRun(ctx: ProbeContext): Promise<{ run: string; data: string }> {
  const data = join(ctx.tmp, 'data');
  const shared = ctx.tinyTrainArgs();
  const from = /^data\.train=(.*)\/train\.csv$/.exec(shared[0])![1];
  cpSync(from, data, { recursive: true });
  const run = join(ctx.tmp, 'run');
  const r = await ctx.refit([
    'train',
    ...shared.map((a) => a.split(from).join(data)),
    'export.onnx=false',
    '--out',
    run,
  ]);
  if (r.status !== 0) throw new Error(`training failed: ${first(r.stderr)}`);
  return { run, data };
}

const resume = (ctx: ProbeContext, run: string, ...extra: string[]) =>
  ctx.refit(['train', '--out', run, '--resume', '--threads', '1', ...extra]);

export const PROBES: Probe[] = [
  {
    item: '22.1',
    did: '`refit predict --engine torch` on a run whose model.safetensors has one byte flipped mid-file (same size)',
    expected: 'exit 2, one line naming model.safetensors: its SHA-256 differs from the manifest',
    async run(ctx) {
      const run = await runCopy(ctx);
      flipMiddle(join(run, 'model', 'model.safetensors'));
      const r = await ctx.refit(['predict', '--run', run, '--engine', 'torch', ...PREDICT]);
      return oneLine(r, 'model.safetensors', /SHA-256 differs from the manifest/);
    },
  },
  {
    item: '22.1',
    did: '`refit predict` (onnx) on a run whose vocab.txt has two tokens of equal length swapped (same size, same count)',
    expected: 'exit 2, one line naming vocab.txt: its SHA-256 differs',
    async run(ctx) {
      const run = await runCopy(ctx);
      swapTokens(join(run, 'model', 'vocab.txt'));
      const r = await ctx.refit(['predict', '--run', run, ...PREDICT]);
      return oneLine(r, 'vocab.txt', /SHA-256 differs from the manifest/);
    },
  },
  {
    item: '22.1',
    did: '`refit eval` on a run whose refit.json has one relation renamed',
    expected: "exit 2, one line naming refit.json and the relation where the manifest's differs",
    async run(ctx) {
      const run = await runCopy(ctx);
      const p = join(run, 'model', 'refit.json');
      const j = JSON.parse(readFileSync(p, 'utf8'));
      j.relations[1] = `${j.relations[1]}_x`;
      writeFileSync(p, JSON.stringify(j));
      const data = /^data\.test=(.*)$/.exec(ctx.tinyTrainArgs()[2])![1];
      const r = await ctx.refit(['eval', '--run', run, '--data', data]);
      return oneLine(r, 'refit.json', /relation '.*_x' at row 2 where the manifest has/);
    },
  },
  {
    item: '22.1',
    did: '`refit predict` on a run whose model.onnx was cut to half its size',
    expected: 'exit 2, one line naming model.onnx (truncated) and refit export',
    async run(ctx) {
      const run = await runCopy(ctx);
      const p = join(run, 'model', 'model.onnx');
      truncateSync(p, readFileSync(p).length >> 1);
      const r = await ctx.refit(['predict', '--run', run, ...PREDICT]);
      return oneLine(r, 'model.onnx', /truncated\); export it again with refit export/);
    },
  },
  {
    item: '22.1',
    did: "`refit export` on a run whose config.json says 4 layers more (another model's config)",
    expected: 'exit 2, one line naming config.json and num_hidden_layers, no worker started',
    async run(ctx) {
      const run = await runCopy(ctx);
      const p = join(run, 'model', 'config.json');
      const c = JSON.parse(readFileSync(p, 'utf8'));
      writeFileSync(p, JSON.stringify({ ...c, num_hidden_layers: c.num_hidden_layers + 4 }));
      const r = await ctx.refit(['export', '--run', run]);
      return oneLine(r, 'config.json', /num_hidden_layers \d+, the manifest says \d+/);
    },
  },
  {
    item: '22.1',
    did: '`refit serve` (torch), then model/ replaced by a copy whose vocab.txt has two tokens swapped (hot reload)',
    expected:
      'predictions go on from the model it had (200, same answer); health degraded naming vocab.txt; one log line',
    async run(ctx) {
      const run = await runCopy(ctx);
      const s = await serve(ctx, run);
      try {
        const ask = async () => {
          const r = await fetch(`${s.url}/v1/predict`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(ITEM),
          });
          return { code: r.status, body: await r.text() };
        };
        const before = await ask();
        const next = join(run, '.model-new');
        cpSync(join(run, 'model'), next, { recursive: true });
        swapTokens(join(next, 'vocab.txt'));
        rmSync(join(run, 'model'), { recursive: true });
        renameSync(next, join(run, 'model'));
        const after = await ask();
        const h = await (await fetch(`${s.url}/v1/health`)).json();
        const logged = s
          .log()
          .split('\n')
          .filter((l) => l.includes('replaced model folder was refused')).length;
        return {
          ok:
            before.code === 200 &&
            after.code === 200 &&
            after.body === before.body &&
            h.status === 'degraded' &&
            /vocab\.txt: its SHA-256 differs/.test(h.reason) &&
            logged === 1,
          happened: `predict ${before.code} then ${after.code} (same: ${after.body === before.body}); health ${h.status}: ${h.reason}; logged ${logged}x`,
        };
      } finally {
        await s.stop();
      }
    },
  },
  {
    item: '22.1',
    did: '`refit serve` (torch) on a run whose model.safetensors is another size (a byte appended)',
    expected: 'exit 2 before listening, one line naming model.safetensors and both sizes',
    async run(ctx) {
      const run = await runCopy(ctx);
      appendFileSync(join(run, 'model', 'model.safetensors'), Buffer.from([0]));
      const r = await ctx.refit(['serve', '--run', run, '--port', '0', '--engine', 'torch'], {
        timeoutMs: 60_000,
      });
      return oneLine(r, 'model.safetensors', /\d+ bytes, the manifest says \d+ \(another file\)/);
    },
  },
  {
    item: '22.2',
    did: '`refit train --resume` after config.yaml was edited by hand (train.seed changed)',
    expected: 'exit 2, one line: config.yaml was edited by hand, naming train.seed and its two values',
    async run(ctx) {
      const run = await runCopy(ctx);
      const p = join(run, 'config.yaml');
      writeFileSync(p, readFileSync(p, 'utf8').replace(/^(\s+)seed: .*$/m, '$1seed: 99'));
      const r = await resume(ctx, run);
      return {
        ok:
          r.status === 2 &&
          /^refit: --resume: config\.yaml was edited by hand since refit wrote it: train\.seed \d+ → 99/.test(
            first(r.stderr),
          ) &&
          clean(r.stderr),
        happened: `exit ${r.status}: ${first(r.stderr)}`,
      };
    },
  },
  {
    item: '22.2',
    did: "`refit train --resume` after one byte in the middle of the last checkpoint's checkpoint.pt was flipped (its zip end intact)",
    expected:
      'exit 2, one line: no usable checkpoint, naming checkpoint.pt and its SHA-256; no worker loads it',
    async run(ctx) {
      const run = await runCopy(ctx);
      const last = JSON.parse(readFileSync(join(run, 'checkpoints', 'last.json'), 'utf8'));
      flipMiddle(join(run, last.checkpoint, 'checkpoint.pt'));
      const r = await resume(ctx, run);
      const line = first(r.stderr);
      return {
        ok:
          r.status === 2 &&
          r.stderr.trim().split('\n').length === 1 &&
          /no usable checkpoint to resume from .*checkpoint\.pt: its SHA-256 differs from the manifest/.test(
            line,
          ),
        happened: `exit ${r.status}: ${line}`,
      };
    },
  },
  {
    item: '22.2',
    sweep: true,
    did: '`refit train --resume` after valid.csv got other rows at the same path (the test rows copied over it)',
    expected: 'exit 2, one line naming valid.csv and --force; events.jsonl unchanged',
    async run(ctx) {
      const { run, data } = await ownRun(ctx);
      const events = readFileSync(join(run, 'events.jsonl'), 'utf8');
      cpSync(join(data, 'test.csv'), join(data, 'valid.csv'));
      const r = await resume(ctx, run);
      return {
        ok:
          r.status === 2 &&
          /valid\.csv \(valid\): other content than the run was started on.*--force/.test(first(r.stderr)) &&
          readFileSync(join(run, 'events.jsonl'), 'utf8') === events,
        happened: `exit ${r.status}: ${first(r.stderr)}`,
      };
    },
  },
  {
    item: '22.2',
    sweep: true,
    did: '`refit train --resume --force` after the last two relations of relation.csv swapped indices',
    expected:
      'without --force: exit 2 naming relation.csv and the order; with it: exit 0 and a resume event recording it',
    async run(ctx) {
      const { run, data } = await ownRun(ctx);
      const p = join(data, 'relation.csv');
      const rows = readFileSync(p, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(','));
      const [a, b] = [rows.length - 2, rows.length - 1];
      [rows[a][3], rows[b][3]] = [rows[b][3], rows[a][3]];
      writeFileSync(p, rows.map((r) => r.join(',')).join('\n') + '\n');
      const refused = await resume(ctx, run);
      const forced = await resume(ctx, run, '--force');
      const ev = readFileSync(join(run, 'events.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"event":"resume"'))
        .map((l) => JSON.parse(l));
      return {
        ok:
          refused.status === 2 &&
          /relation\.csv: the relations are in another order/.test(first(refused.stderr)) &&
          forced.status === 0 &&
          ev.length === 1 &&
          /relation\.csv: the relations are in another order/.test(ev[0].forced ?? ''),
        happened: `without --force exit ${refused.status}: ${first(refused.stderr)}; with it exit ${forced.status}, resume event forced: ${ev[0]?.forced ?? 'none'}`,
      };
    },
  },
];
