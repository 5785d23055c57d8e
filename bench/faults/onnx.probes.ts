// Probes of the ONNX path (issue 13): a corrupt model.onnx, export of a run folder without weights, and
// predict/serve --engine onnx on a run that has no model.onnx are each one line, with no stack.
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Probe, ProbeContext } from './types.ts';

/** A private copy of the shared tiny run (probes must not modify it), without model.onnx. */
async function runCopy(ctx: ProbeContext): Promise<string> {
  const run = join(ctx.tmp, 'run');
  cpSync(await ctx.tinyRun(), run, { recursive: true });
  rmSync(join(run, 'model', 'model.onnx'), { force: true });
  return run;
}

const PREDICT = ['--text', 'Ann Lee was born in Porto.', '--head', 'Ann Lee', '--tail', 'Porto'];
const oneLine = (r: { status: number; stderr: string }, status: number, needle: string) => ({
  ok: r.status === status && r.stderr.split('\n')[0].includes(needle) && !r.stderr.includes('    at '),
  happened: `exit ${r.status}: ${r.stderr.split('\n')[0]}`,
});

export const PROBES: Probe[] = [
  {
    item: 'onnx',
    did: '`refit predict` on a run whose model/model.onnx is garbage (not a protobuf)',
    expected: 'exit 2, one line naming model.onnx and `refit export`, no stack',
    async run(ctx) {
      const run = await runCopy(ctx);
      writeFileSync(join(run, 'model', 'model.onnx'), 'not a protobuf');
      // Not the file its manifest lists (issue 22): refused before onnxruntime reads it.
      const r = await ctx.refit(['predict', '--run', run, ...PREDICT]);
      const line = oneLine(r, 2, 'model.onnx: ');
      return { ...line, ok: line.ok && r.stderr.includes('refit export') };
    },
  },
  {
    item: 'onnx',
    did: '`refit export` on a run folder whose model.safetensors is gone',
    expected: 'exit 2, one line naming model.safetensors, no worker started',
    async run(ctx) {
      const run = await runCopy(ctx);
      rmSync(join(run, 'model', 'model.safetensors'));
      return oneLine(await ctx.refit(['export', '--run', run]), 2, 'model.safetensors');
    },
  },
  {
    item: 'onnx',
    did: '`refit predict --engine onnx` on a run without model.onnx',
    expected: 'exit 2, one line: missing, export it first or use --engine torch',
    async run(ctx) {
      const run = await runCopy(ctx);
      return oneLine(
        await ctx.refit(['predict', '--run', run, '--engine', 'onnx', ...PREDICT]),
        2,
        'model.onnx: missing',
      );
    },
  },
  {
    item: 'onnx',
    did: '`refit serve --engine onnx` on a run without model.onnx',
    expected: 'exit 2, one line before listening',
    async run(ctx) {
      const run = await runCopy(ctx);
      return oneLine(
        await ctx.refit(['serve', '--run', run, '--engine', 'onnx', '--port', '0'], { timeoutMs: 30_000 }),
        2,
        'model.onnx: missing',
      );
    },
  },
  {
    item: 'onnx',
    did: '`refit predict --engine tensorrt` (an engine refit does not have)',
    expected: 'exit 2, one line listing onnx and torch',
    async run(ctx) {
      const run = await runCopy(ctx);
      return oneLine(
        await ctx.refit(['predict', '--run', run, '--engine', 'tensorrt', ...PREDICT]),
        2,
        'expected one of onnx, torch',
      );
    },
  },
];
