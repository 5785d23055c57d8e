// `refit eval` as a function: a finished run's model on any labelled file → the same metric block as training.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import { readDataset } from '../data/index.ts';
import { encodeForHead, writeEncodedDataset } from '../encode/index.ts';
import { chooseEngine, type Engine } from './engine.ts';
import { onnxLogits } from './onnx-export.ts';
import { onnxCheckOf } from './onnx-predictor.ts';
import { ONNX_FILE, ONNX_INT8_FILE } from './onnx-runtime.ts';
import type { MetricBlock } from '../metrics/index.ts';
import { defaultThreads, findPython } from '../worker/index.ts';
import { evalLogits, scoreLogits } from '../session/index.ts';
import { modelSpec, readModelFolder } from '../session/index.ts';
import { inferenceLoad, setupWorker, startWorker } from '../session/index.ts';

/** What `refit eval` is given: a run, a labelled file (its format when not sniffed), the engine, the worker's env. */
export interface EvalRunOptions {
  run_dir: string;
  data: string;
  format?: string;
  engine?: Engine;
  env: Record<string, string | undefined>;
  log: RunLog;
  num_threads?: number;
}

/** Metrics of the run's model on `data` (every relation in it must be one the run was trained on). */
export async function evaluateRun(
  opts: EvalRunOptions,
): Promise<MetricBlock & { loss: number; n: number; engine: Engine }> {
  const model = readModelFolder(opts.run_dir);
  const ds = await readDataset({ path: opts.data, format: opts.format, on_bad_row: 'error' });
  const known = new Set(model.relations.names);
  const unknown = [
    ...new Set(
      ds.examples.map((e) => e.relation).filter((r): r is string => r !== undefined && !known.has(r)),
    ),
  ];
  if (unknown.length) {
    throw new RefitError(
      'E_RUN_RELATIONS',
      `${opts.data}: relation${unknown.length > 1 ? 's' : ''} ${unknown
        .slice(0, 5)
        .map((r) => `'${r}'`)
        .join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''} ` +
        `not among the ${known.size} relations the run ${opts.run_dir} was trained on`,
    );
  }
  const unlabelled = ds.examples.findIndex((e) => e.relation === undefined);
  if (unlabelled >= 0)
    throw new RefitError(
      'E_DATA_UNLABELLED',
      `${opts.data}:${ds.examples[unlabelled].line}: no relation — eval needs labelled data (use refit ` +
        `predict for unlabelled input)`,
    );
  const engine = chooseEngine(opts.run_dir, opts.engine);
  const score = (logits: number[][]) => ({
    ...scoreLogits({
      logits,
      gold: ds.examples.map((e) => e.relation!),
      relations: model.relations,
      semeval: ds.format === 'semeval',
    }),
    n: ds.examples.length,
    engine,
  });
  if (engine === 'onnx') {
    // In this process (no Python): the same encoding, the file predict would load (int8 where it was kept).
    const enc = {
      tokenizer: model.text.tokenizer,
      max_seq_len: model.refit.max_seq_len,
      markers: model.text.markers,
      deepke_lm: model.text.deepke_lm,
    };
    const rows = ds.examples.map((example) => encodeForHead({ ...enc, example }));
    const file =
      (model.refit as { onnx?: { engine?: string } }).onnx?.engine === 'onnx-int8' &&
      existsSync(join(model.dir, ONNX_INT8_FILE))
        ? ONNX_INT8_FILE
        : ONNX_FILE;
    return score(
      await onnxLogits({
        path: join(model.dir, file),
        rows,
        max_seq_len: model.refit.max_seq_len,
        threads: opts.num_threads ?? defaultThreads(),
        check: onnxCheckOf(model, file),
      }),
    );
  }
  const tmp = mkdtempSync(join(tmpdir(), 'refit-eval-'));
  const { python } = await findPython({ env: opts.env });
  const worker = await startWorker({ python, env: opts.env, log: opts.log, num_threads: opts.num_threads });
  try {
    const enc = await writeEncodedDataset({
      examples: ds.examples,
      relations: model.relations,
      tokenizer: model.text.tokenizer,
      max_seq_len: model.refit.max_seq_len,
      markers: model.text.markers,
      deepke_lm: model.text.deepke_lm,
      cache_dir: tmp,
    });
    const caps = worker.ready.capabilities;
    const load = inferenceLoad(modelSpec(model), {
      device: caps.cuda ? 'cuda' : 'cpu',
      attention: caps.sdpa ? 'sdpa' : 'eager',
    });
    await setupWorker(worker, {
      load,
      datasets: [{ name: 'eval', path: enc.path }],
      restore_from: model.dir,
    });
    const logits = await evalLogits(worker, {
      dataset: 'eval',
      lengths: enc.lengths,
      padding: 'dynamic',
      max_seq_len: model.refit.max_seq_len,
      tag: 'eval',
    });
    return score(logits);
  } finally {
    await worker.close().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}
