// Stage 2 of a training run: the data read and checked, the model sized, the run's sizes checked against both,
// every split encoded into the cache and a python with torch found. Nothing is written into the out folder here
// (only the cache, and the folder itself when the cache has to live in it): bad input leaves no run behind.
import { join } from 'node:path';
import type { RunLog } from '../../log.ts';
import { DEFAULTS, type RunConfig } from '../../config/index.ts';
import { RefitError } from '../../errors.ts';
import type { ModelDims } from '../../memory/index.ts';
import { findPython } from '../../worker/index.ts';
import { checkModelWeights } from '../../session/index.ts';
import { deepkeLmRun } from '../deepke-lm.ts';
import { makeFolder } from '../files.ts';
import { checkFreeSpace } from '../out-paths.ts';
import { cacheDir, encodeSplit, modelDims, readSplits, textSide, RUN_CACHE_DIR } from '../prepare.ts';
import { encodeNerSplit, readNerSplits } from '../prepare-ner.ts';
import type { NerSentence } from '../../data/index.ts';
import type { PreparedRun, RunContext } from './context.ts';

/** Reads, sizes and encodes the run's inputs (see the file's header); the context gains `inputs`. */
export async function prepareInputs(ctx: RunContext): Promise<PreparedRun> {
  const { opts, stop, pre: log } = ctx;
  let config = opts.config;
  const warn = (l: string) => log.write(`warning: ${l}`);
  // task: ner reads NER files; its tag list stands where the relation set does (the labels' names, no NA label).
  const ner = config.task === 'ner' ? await readNerSplits({ config, warn }) : undefined;
  const splits = ner
    ? {
        relations: { names: ner.tags, na_label: null },
        format: ner.format,
        train: [],
        valid: [],
        test: [],
        paths: ner.paths,
      }
    : await readSplits({ config, warn });
  stop.check('reading the data');
  const text = textSide(config);
  // Sizes before memory: the model's shape (bounded in validateDims), the window against its positions, the
  // batch against the data.
  const dims = modelDims(config, text.vocab.size);
  config = checkRunSizes(config, dims, ner?.train.length ?? splits.train.length, log);
  if (config.model.pretrained) checkModelWeights(config.model.pretrained);
  checkFreeSpace(opts.out, checkpointBytes(dims), '--out');
  const cache = cacheDir({ out: opts.out, env: opts.env });
  if (cache.startsWith(join(opts.out, RUN_CACHE_DIR))) {
    log.write(`the user cache folder cannot be written: encoded data is cached in ${cache}`);
    makeFolder(opts.out);
  }
  // deepke-lm: DeepKE's LM text, with the gold relation's entity types when relation.csv has them (said at start).
  const lm = await deepkeLmRun({
    config,
    relations_path: splits.paths.relations,
    text,
    num_hidden_layers: dims.num_hidden_layers,
  });
  for (const line of lm?.notes ?? []) {
    log.write(`note: ${line}`);
    opts.notice?.(line);
  }
  const enc = async (name: string, ex: typeof splits.train, side = lm?.text ?? text) => {
    const r = await encodeSplit({
      name,
      examples: ex,
      relations: splits.relations,
      text: side,
      max_seq_len: config.memory.max_seq_len,
      cache_dir: cache,
    });
    stop.check('encoding the data');
    return r;
  };
  const encNer = async (name: string, sentences: NerSentence[]) => {
    const r = await encodeNerSplit({
      name,
      sentences,
      tags: ner!.tags,
      text,
      max_seq_len: config.memory.max_seq_len,
      cache_dir: cache,
    });
    stop.check('encoding the data');
    return r;
  };
  const [train, valid, test] = ner
    ? [
        await encNer('train', ner.train),
        ner.valid.length ? await encNer('valid', ner.valid) : null,
        ner.test.length ? await encNer('test', ner.test) : null,
      ]
    : [
        await enc('train', splits.train),
        splits.valid.length ? await enc('valid', splits.valid) : null,
        splits.test.length ? await enc('test', splits.test) : null,
      ];
  const test_untyped =
    test && lm?.info.entity_types === 'gold-relation'
      ? await enc('test-untyped', splits.test, lm.untyped)
      : null;
  const { python } = await findPython({ env: opts.env, configured: config.engine.python });
  stop.check('preparing the data');
  const inputs = { config, splits, ner, text, train, valid, test, test_untyped, lm, dims, python };
  return Object.assign(ctx, { inputs });
}

/**
 * Bytes a run's checkpoints and saved model take at most: two `last` states (weights + AdamW moments), `best`
 * and model/, fp32.
 */
export function checkpointBytes(dims: ModelDims): number {
  const h = dims.hidden_size,
    I = dims.intermediate_size;
  const params =
    (dims.vocab_size + dims.max_position_embeddings + dims.type_vocab_size) * h +
    dims.num_hidden_layers * (4 * h * h + 2 * h * I + 9 * h + I);
  return params * 4 * 8;
}

/**
 * Run sizes against the model and the data, before anything is encoded or allocated: the window must fit the
 * model's positions; the effective batch must not exceed the training set (the default batch is lowered to it
 * with a warning, a batch the user set is refused).
 */
export function checkRunSizes(config: RunConfig, dims: ModelDims, n_train: number, log: RunLog): RunConfig {
  const m = config.model;
  const model = m.pretrained ? `${join(m.pretrained, 'config.json')}` : `model.preset ${m.preset}`;
  const seq = config.memory.max_seq_len;
  if (seq > dims.max_position_embeddings) {
    throw new RefitError(
      'E_MODEL_SHAPE',
      `memory.max_seq_len ${seq} is above the model's ${dims.max_position_embeddings} positions ` +
        `(max_position_embeddings of ${model}); set memory.max_seq_len=${dims.max_position_embeddings} or less`,
    );
  }
  const batch = config.train.batch_size;
  if (n_train > 0 && batch > n_train) {
    if (batch !== DEFAULTS['train.batch_size']) {
      throw new RefitError(
        'E_BATCH_SIZE',
        `train.batch_size ${batch} is larger than the ${n_train} training examples; set ` +
          `train.batch_size=${n_train} or less`,
      );
    }
    log.write(
      `warning: the default train.batch_size ${batch} is larger than the ${n_train} training examples; ` +
        `using ${n_train}`,
    );
    return { ...config, train: { ...config.train, batch_size: n_train } };
  }
  return config;
}
