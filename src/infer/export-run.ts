// `refit export` as a function: a finished run's model → model/model.onnx, checked against torch on the run's own
// data (its test split, else valid, else train; or --data FILE) and recorded in refit.json.
import { existsSync } from 'node:fs';
import { RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import { resolveConfig } from '../config/index.ts';
import { readDataset, readNerDataset, type Example } from '../data/index.ts';
import { defaultThreads, findPython } from '../worker/index.ts';
import { runPaths } from '../session/index.ts';
import { modelSpec, readModelFolder, type LoadedModel } from '../session/index.ts';
import { exportOnnx, type OnnxRecord } from './onnx-export.ts';
import { exportNerOnnx } from './ner-export.ts';
import { DEFAULT_OPSET } from './onnx-runtime.ts';
import { quantizeAndMeasure, type Int8Record } from './onnx-quantize.ts';
import { resolveDataPaths } from '../session/index.ts';
import { inferenceLoad, setupWorker, startWorker } from '../session/index.ts';

/**
 * Heads exported to ONNX: the three relation heads and the token head (task: ner, checked by ner-export.ts).
 * deepke-lm's packed RNN would trace with the sample batch baked in, so the worker exports it unpacked
 * (worker/python/refit_worker/export_rnn.py: the same weights, one RNN per layer and direction, the backward one
 * over each row reversed within its length); the graph takes `lengths` as an input.
 */
export const ONNX_HEADS: ReadonlySet<string> = new Set(['entity-start', 'cls', 'deepke-lm', 'token']);

/** What an export did: what refit.json now records, the int8 measurement if asked for, and the run's task. */
export type ExportResult = OnnxRecord & { int8?: Int8Record; task: 're' | 'ner' };

/**
 * The export's self-check in words, true for the run's head: a relation head's logits and relations, or the token
 * head's tag at every word checked (all equal, or no file was kept) and the largest score difference.
 */
export function onnxCheckSummary(r: Pick<ExportResult, 'check' | 'task'>): string {
  const c = r.check;
  const diff = `${c.max_abs_diff.toExponential(2)} (≤ ${c.tolerance})`;
  return r.task === 'ner'
    ? `on ${c.examples} sentences of ${c.data}: the same tag as torch at all ${c.same_relation} words checked, ` +
        `max |score diff| ${diff}`
    : `on ${c.examples} examples of ${c.data}: max |logit diff| ${diff}, ` +
        `same relation ${c.same_relation}/${c.examples}`;
}

/** Exports `<run_dir>/model` to ONNX and checks it; returns what refit.json now records. */
export async function exportRun(opts: {
  run_dir: string;
  data?: string;
  format?: string;
  opset?: number;
  quantize?: 'int8';
  threads?: number;
  env: Record<string, string | undefined>;
  log: RunLog;
}): Promise<ExportResult> {
  if (!existsSync(opts.run_dir))
    throw new RefitError(
      'E_RUN_DIR',
      `${opts.run_dir}: no such run folder (pass the folder refit train wrote)`,
    );
  const model = readModelFolder(opts.run_dir);
  if (!ONNX_HEADS.has(model.refit.head)) {
    throw new RefitError(
      'E_ONNX_HEAD',
      `${opts.run_dir}: head ${model.refit.head} is not exported to ONNX; predict and serve use the torch worker`,
    );
  }
  if (model.refit.task === 'ner') return { ...(await exportNerRun({ ...opts, model })), task: 'ner' };
  const check = await checkExamples({ run_dir: opts.run_dir, model, data: opts.data, format: opts.format });
  const { python } = await findPython({ env: opts.env });
  const worker = await startWorker({ python, env: opts.env, log: opts.log });
  try {
    // Eager attention and fp32 on the CPU: the exporter traces what it is given, and parity is checked in fp32.
    const load = inferenceLoad(modelSpec(model), { device: 'cpu', attention: 'eager' });
    await setupWorker(worker, { load, datasets: [], restore_from: model.dir });
    const record = await exportOnnx({
      worker,
      torch_version: worker.ready.torch_version,
      model,
      examples: check.examples,
      data_name: check.name,
      opset: opts.opset ?? DEFAULT_OPSET,
      log: opts.log,
    });
    if (opts.quantize !== 'int8') return { ...record, task: 're' };
    // int8 is measured with onnxruntime alone: the worker's threads would compete
    await worker.close().catch(() => undefined);
    return {
      ...record,
      task: 're',
      int8: await quantizeAndMeasure({
        model,
        examples: check.examples,
        data_name: check.name,
        threads: opts.threads ?? defaultThreads(),
        log: opts.log,
      }),
    };
  } finally {
    await worker.close().catch(() => undefined);
  }
}

/** An NER run's export (no int8: the quantisation is measured on relation F1), checked on its own sentences. */
async function exportNerRun(opts: {
  run_dir: string;
  model: LoadedModel;
  data?: string;
  format?: string;
  opset?: number;
  env: Record<string, string | undefined>;
  log: RunLog;
}): Promise<OnnxRecord> {
  const { model } = opts;
  let file = opts.data;
  let format = opts.format;
  const config = runPaths(opts.run_dir).config;
  if (!file && existsSync(config)) {
    const c = resolveConfig({ file: config, overrides: [] });
    const paths = await resolveDataPaths(c);
    file = [paths.test, paths.valid, paths.train].find((p): p is string => !!p && existsSync(p));
    format = c.data.format;
  }
  if (!file)
    throw new RefitError(
      'E_ONNX_CHECK',
      `${opts.run_dir}: the run's data files are not here to check the export on; pass --data FILE (an NER file)`,
    );
  const data = await readNerDataset({ path: file, format, on_bad_row: 'skip' });
  const { python } = await findPython({ env: opts.env });
  const worker = await startWorker({ python, env: opts.env, log: opts.log });
  try {
    const load = inferenceLoad(modelSpec(model), { device: 'cpu', attention: 'eager' });
    await setupWorker(worker, { load, datasets: [], restore_from: model.dir });
    return await exportNerOnnx({
      worker,
      torch_version: worker.ready.torch_version,
      model,
      texts: data.sentences.map((s) => s.text),
      data_name: file,
      opset: opts.opset ?? DEFAULT_OPSET,
      log: opts.log,
    });
  } finally {
    await worker.close().catch(() => undefined);
  }
}

/** The first examples of --data, else of the run's test/valid/train file (as its config.yaml names them). */
async function checkExamples(opts: {
  run_dir: string;
  model: LoadedModel;
  data?: string;
  format?: string;
}): Promise<{ examples: Example[]; name: string }> {
  const read = async (path: string, format?: string, na_label?: string) => {
    const ds = await readDataset({ path, format, na_label, on_bad_row: 'skip' });
    // exportOnnx checks the first ONNX_CHECK_EXAMPLES; int8 is measured on all
    return { examples: ds.examples, name: path };
  };
  if (opts.data) return read(opts.data, opts.format);
  const config = runPaths(opts.run_dir).config;
  if (existsSync(config)) {
    const c = resolveConfig({ file: config, overrides: [] });
    const paths = await resolveDataPaths(c);
    const file = [paths.test, paths.valid, paths.train].find((p): p is string => !!p && existsSync(p));
    if (file) return read(file, c.data.format, c.data.na_label);
  }
  throw new RefitError(
    'E_ONNX_CHECK',
    `${opts.run_dir}: the run's data files are not here to check the export on; pass --data FILE (any ` +
      `labelled or predict input file)`,
  );
}
