// The model/ folder of a run: HF-compatible config.json + model.safetensors (written by the worker), vocab.txt,
// and refit.json (relations, NA label, markers, head, window, casing). Reading it back for eval/predict/serve.
import { copyFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RefitError } from '../errors.ts';
import type { RelationSet } from '../data/types.ts';
import { Vocab, WordPieceTokenizer } from '../tokenize/index.ts';
import type { MarkerScheme } from '../encode/index.ts';
import type { ModelDims } from '../memory/index.ts';
import type { HeadKind, RnnSpec } from '../worker/protocol.ts';
import type { SupervisedWorker } from '../worker/index.ts';
import { readJson, writeJsonAtomic } from './run-files.ts';
import { expect } from './worker-session.ts';
import { checkModelWeights } from './weights-check.ts';
import type { TextSide } from './text-side.ts';

/** refit.json: what a model folder needs beyond Hugging Face's files to classify relations or tag tokens. */
export interface RefitJson {
  format: 'refit-model';
  version: 1;
  /** `ner`: a token head over `tags`; absent (folders written before NER) or `re`: a relation model. */
  task?: 're' | 'ner';
  /** task: ner: label id → tag (`O` first), the id2label of config.json. */
  tags?: string[];
  /** task: ner: how text splits into the model's tokens: characters (Chinese, DeepKE's `char TAG`) or words. */
  ner_tokens?: NerTokens;
  /** Relation names (empty for task: ner). */
  relations: string[];
  na_label: string | null;
  markers: MarkerScheme;
  head: HeadKind;
  max_seq_len: number;
  lowercase: boolean;
  num_labels: number;
  trained_steps: number;
  /** The deepke-lm head's RNN (that head reads DeepKE's LM text, not `markers`). */
  rnn?: RnnSpec;
  /** Where the model came from when it was not trained by refit (`refit import-deepke`). */
  imported_from?: {
    format: 'deepke-lm';
    checkpoint: string;
    lm_file: string;
    relations: string;
    conf?: string;
  };
}

/** How an NER model splits text into its tokens: one per character (Chinese) or one per whitespace-separated word. */
export type NerTokens = 'chars' | 'words';

/** A model folder read back: dims, relation set and the text side to encode new input the same way. */
export interface LoadedModel {
  dir: string;
  refit: RefitJson;
  dims: ModelDims;
  relations: RelationSet;
  text: TextSide;
}

/** What a worker's `load` needs to build `model` (inferenceLoad's spec): its shape, head, RNN and relation count. */
export function modelSpec(model: LoadedModel): {
  dims: ModelDims;
  head: HeadKind;
  rnn?: RnnSpec;
  num_labels: number;
} {
  return {
    dims: model.dims,
    head: model.refit.head,
    rnn: model.refit.rnn,
    num_labels: model.refit.num_labels,
  };
}

/**
 * Saves the worker's current weights as `<run>/model`: the worker writes config.json + model.safetensors into a
 * temp folder, vocab.txt, refit.json and the label maps are added, then the folder is renamed into place.
 */
export async function writeModelFolder(opts: {
  worker: SupervisedWorker;
  run_dir: string;
  text: TextSide;
  relations: RelationSet;
  head: HeadKind;
  max_seq_len: number;
  step: number;
  rnn?: RnnSpec;
  imported_from?: RefitJson['imported_from'];
  /** task: ner: the tag list (label names, `O` first) and how text splits into tokens; `relations` is then unused. */
  ner?: { tags: string[]; tokens: NerTokens };
}): Promise<string> {
  const dir = join(opts.run_dir, 'model');
  const tmp = join(opts.run_dir, `.model-tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  await expect(opts.worker, { type: 'save', path: tmp, checkpoint: false, step: opts.step }, 'saved');
  copyFileSync(opts.text.vocab_path, join(tmp, 'vocab.txt'));
  const names = opts.ner ? opts.ner.tags : opts.relations.names;
  const config = readJson<Record<string, unknown>>(join(tmp, 'config.json'));
  writeJsonAtomic(join(tmp, 'config.json'), {
    ...config,
    id2label: Object.fromEntries(names.map((n, i) => [String(i), n])),
    label2id: Object.fromEntries(names.map((n, i) => [n, i])),
  });
  const refit: RefitJson = {
    format: 'refit-model',
    version: 1,
    ...(opts.ner ? { task: 'ner' as const, tags: names, ner_tokens: opts.ner.tokens } : {}),
    relations: opts.ner ? [] : names,
    na_label: opts.ner ? null : opts.relations.na_label,
    markers: opts.text.markers,
    head: opts.head,
    max_seq_len: opts.max_seq_len,
    lowercase: opts.text.lowercase,
    num_labels: names.length,
    trained_steps: opts.step,
    ...(opts.rnn ? { rnn: opts.rnn } : {}),
    ...(opts.imported_from ? { imported_from: opts.imported_from } : {}),
  };
  writeJsonAtomic(join(tmp, 'refit.json'), refit);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

/** Reads `<run>/model` (or a model folder given directly); a missing or foreign folder is one clear line. */
export function readModelFolder(run_dir: string): LoadedModel {
  const dir = existsSync(join(run_dir, 'model', 'refit.json')) ? join(run_dir, 'model') : run_dir;
  for (const f of ['refit.json', 'config.json', 'vocab.txt']) {
    if (!existsSync(join(dir, f)))
      throw new RefitError(
        'E_RUN_MODEL',
        `${join(run_dir, 'model', f)}: missing — not a finished refit run (train one with refit train ` +
          `--out ${run_dir})`,
      );
  }
  const refit = readJson<RefitJson>(join(dir, 'refit.json'), 'E_RUN_MODEL');
  if (refit.format !== 'refit-model' || !Array.isArray(refit.relations))
    throw new RefitError('E_RUN_MODEL', `${join(dir, 'refit.json')}: not a refit model description`);
  const cfg = readJson<ModelDims>(join(dir, 'config.json'), 'E_RUN_MODEL');
  const dims: ModelDims = {
    vocab_size: cfg.vocab_size,
    hidden_size: cfg.hidden_size,
    num_hidden_layers: cfg.num_hidden_layers,
    num_attention_heads: cfg.num_attention_heads,
    intermediate_size: cfg.intermediate_size,
    max_position_embeddings: cfg.max_position_embeddings,
    type_vocab_size: cfg.type_vocab_size,
  };
  checkModelWeights(dir); // a truncated or garbled model.safetensors is one line here, before a worker starts
  const vocab_path = join(dir, 'vocab.txt');
  const vocab = Vocab.fromFile(vocab_path);
  if (refit.task === 'ner' && (refit.head !== 'token' || !Array.isArray(refit.tags) || !refit.ner_tokens))
    throw new RefitError(
      'E_RUN_MODEL',
      `${join(dir, 'refit.json')}: task ner without a token head, tags and ner_tokens`,
    );
  if (refit.head === 'deepke-lm' && !refit.rnn)
    throw new RefitError(
      'E_RUN_MODEL',
      `${join(dir, 'refit.json')}: head deepke-lm without its rnn settings`,
    );
  // deepke-lm: no gold relation at prediction time, so mentions keep their text unless the input gives types.
  const text: TextSide = {
    vocab_path,
    vocab,
    tokenizer: new WordPieceTokenizer(vocab, { lowercase: refit.lowercase }),
    lowercase: refit.lowercase,
    markers: refit.markers,
    ...(refit.head === 'deepke-lm' ? { deepke_lm: {} } : {}),
  };
  return { dir, refit, dims, relations: { names: refit.relations, na_label: refit.na_label }, text };
}
