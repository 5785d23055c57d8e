// `refit import-deepke` as a function: a trained DeepKE LM checkpoint (.pth) + its conf → a refit run folder (model/
// with config.json, vocab.txt, model.safetensors in DeepKE's names, refit.json; config.yaml) that predict and
// serve use.
// Every input is checked before the out folder is touched; the .pth is read by the worker (torch.load, weights only).
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import { configToYaml, verifyNumRelations, type RunConfig } from '../config/index.ts';
import { readRelations, type RelationSet } from '../data/index.ts';
import { findPython } from '../worker/index.ts';
import { checkDeepkeCheckpoint } from './deepke-checkpoint.ts';
import { rnnSpec } from './deepke-lm.ts';
import { prepareOutDir } from './files.ts';
import {
  runPaths,
  writeJsonAtomic,
  writeTextAtomic,
  writeModelFolder,
  resolveDataPaths,
} from '../session/index.ts';
import { bertConfig, expect, inferenceLoad, setupWorker, startWorker } from '../session/index.ts';
import { modelDims, textSide } from './prepare.ts';

/** Options of one import: the resolved conf (its file for the record), the checkpoint, the run folder. */
export interface ImportOptions {
  config: RunConfig;
  checkpoint: string;
  out: string;
  force?: boolean;
  conf?: string;
  env: Record<string, string | undefined>;
  log: RunLog;
  num_threads?: number;
  /**
   * Keys the conf or the overrides set: without memory.max_seq_len the window is DeepKE's 512 (at most the
   * model's positions).
   */
  explicit?: ReadonlySet<string>;
}

/** What an import wrote. */
export interface ImportResult {
  run_dir: string;
  relations: string[];
  num_hidden_layers: number;
  rnn: string;
}

/** Imports a DeepKE LM checkpoint into `out` (see the file header); RefitError with one line on any mismatch. */
export async function importDeepke(opts: ImportOptions): Promise<ImportResult> {
  // The checkpoint is DeepKE's LM model whatever model.head the conf leaves at its default.
  const config: RunConfig = { ...opts.config, model: { ...opts.config.model, head: 'deepke-lm' } };
  const lm_file = checkLmFile(config);
  const checkpoint = resolve(opts.checkpoint);
  if (!existsSync(checkpoint) || !statSync(checkpoint).isFile())
    throw new RefitError(
      'E_DEEPKE_CHECKPOINT',
      `${opts.checkpoint}: no such checkpoint file (--checkpoint is DeepKE's checkpoints/<date>/lm_epochN.pth)`,
    );
  const { relations, file } = await readRelationList(config);
  verifyNumRelations(config, relations, file);
  const text = textSide(config);
  const dims = modelDims(config, text.vocab.size);
  const rnn = rnnSpec(config)!;
  // DeepKE predicts with up to 512 tokens; prediction holds no training state, so its window costs little memory.
  const window = opts.explicit?.has('memory.max_seq_len')
    ? config.memory.max_seq_len
    : Math.min(512, dims.max_position_embeddings);
  config.memory = { ...config.memory, max_seq_len: window };
  const { python } = await findPython({ env: opts.env, configured: config.engine.python });
  const worker = await startWorker({ python, env: opts.env, log: opts.log, num_threads: opts.num_threads });
  const stage = join(resolve(opts.out), `.import-tmp-${process.pid}`);
  const createdOut = !existsSync(opts.out);
  let prepared = false;
  try {
    const info = await expect(worker, { type: 'inspect_weights', path: checkpoint }, 'weights_info');
    checkDeepkeCheckpoint({
      path: opts.checkpoint,
      tensors: info.tensors,
      dims,
      rnn,
      num_labels: relations.names.length,
      lm_file,
      relations_file: file,
    });
    prepareOutDir({ dir: opts.out, resume: false, force: !!opts.force });
    prepared = true;
    stageFolder({ dir: stage, config: bertConfig(dims), vocab: text.vocab_path, weights: checkpoint });
    const load = inferenceLoad(
      {
        dims,
        head: 'deepke-lm',
        rnn,
        num_labels: relations.names.length,
        num_threads: opts.num_threads,
      },
      { device: 'cpu', attention: 'eager' },
    );
    // restore = the strict load: every BERT, RNN and fc weight must be there with this shape.
    await setupWorker(worker, { load, datasets: [], restore_from: stage }).catch((e: unknown) => {
      throw namingCheckpoint(e, stage, opts.checkpoint);
    });
    await writeModelFolder({
      worker,
      run_dir: opts.out,
      text,
      relations,
      head: 'deepke-lm',
      max_seq_len: window,
      step: 0,
      rnn,
      imported_from: {
        format: 'deepke-lm',
        checkpoint,
        lm_file: resolve(lm_file),
        relations: resolve(file),
        ...(opts.conf ? { conf: resolve(opts.conf) } : {}),
      },
    });
    writeTextAtomic(runPaths(opts.out).config, configToYaml(config));
  } catch (e) {
    // A failed import leaves no run folder behind (one it did not create keeps its other files).
    if (prepared && createdOut) rmSync(opts.out, { recursive: true, force: true });
    else if (prepared)
      for (const f of [runPaths(opts.out).model, runPaths(opts.out).config])
        rmSync(f, { recursive: true, force: true });
    throw e;
  } finally {
    rmSync(stage, { recursive: true, force: true });
    await worker.close().catch(() => undefined);
  }
  return {
    run_dir: opts.out,
    relations: relations.names,
    num_hidden_layers: dims.num_hidden_layers,
    rnn:
      `${rnn.bidirectional ? 'bidirectional ' : ''}${rnn.type}, hidden_size ${rnn.hidden_size}, ` +
      `${rnn.num_layers} layer${rnn.num_layers === 1 ? '' : 's'}`,
  };
}

/** lm_file (model.pretrained) must be the local Hugging Face folder the checkpoint was trained from; returns it. */
function checkLmFile(config: RunConfig): string {
  const dir = config.model.pretrained;
  if (!dir)
    throw new ConfigError(
      'E_MODEL_FILES',
      'import-deepke needs lm_file (model.pretrained): the local Hugging Face folder the checkpoint was ' +
        'trained from (its config.json and vocab.txt)',
    );
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    // DeepKE #410: a .pth given as lm_file.
    throw new RefitError(
      'E_MODEL_FILES',
      `lm_file ${dir}: a file, not a folder; lm_file is the Hugging Face folder the checkpoint was trained ` +
        `from (config.json, vocab.txt) and --checkpoint is the .pth`,
    );
  }
  if (existsSync(dir)) {
    for (const f of ['config.json', 'vocab.txt']) {
      if (!existsSync(join(dir, f)))
        throw new RefitError(
          'E_MODEL_FILES',
          `lm_file ${dir}: no ${f} in the folder; import-deepke reads config.json and vocab.txt from the ` +
            `Hugging Face folder the checkpoint was trained from (its weights are not needed)`,
        );
    }
  }
  return dir; // a model id that is not a folder here gets textSide's one line with the download command
}

/** relation.csv of the conf's data_path (or data.relations): the label names the checkpoint's fc rows stand for. */
async function readRelationList(config: RunConfig): Promise<{ relations: RelationSet; file: string }> {
  const paths = await resolveDataPaths(config);
  if (!paths.relations)
    throw new ConfigError(
      'E_NO_DATA',
      `import-deepke needs the relation list the checkpoint was trained with: data_path (data.folder) ` +
        `holding relation.csv, or data.relations=FILE`,
    );
  return { relations: await readRelations(paths.relations), file: paths.relations };
}

/**
 * A model folder the worker's restore reads: config.json, vocab.txt and the .pth as pytorch_model.bin
 * (linked, else copied).
 */
/** A load error names the staged folder (gone afterwards): name the user's checkpoint in its place. */
function namingCheckpoint(e: unknown, stage: string, checkpoint: string): unknown {
  if (e instanceof Error && e.message.includes(stage))
    e.message = e.message
      .split(join(stage, 'pytorch_model.bin'))
      .join(checkpoint)
      .split(stage)
      .join(checkpoint);
  return e;
}

function stageFolder(opts: {
  dir: string;
  config: Record<string, unknown>;
  vocab: string;
  weights: string;
}): void {
  rmSync(opts.dir, { recursive: true, force: true });
  mkdirSync(opts.dir, { recursive: true });
  writeJsonAtomic(join(opts.dir, 'config.json'), opts.config);
  copyFileSync(opts.vocab, join(opts.dir, 'vocab.txt'));
  try {
    symlinkSync(opts.weights, join(opts.dir, 'pytorch_model.bin'));
  } catch {
    copyFileSync(opts.weights, join(opts.dir, 'pytorch_model.bin')); // no symlinks here (Windows without the privilege)
  }
}
