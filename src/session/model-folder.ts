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
import {
  relationDifference,
  relationFacts,
  sha256File,
  verifyFolder,
  writeManifest,
  type Manifest,
  type ManifestFacts,
} from './manifest.ts';
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
  /** The folder's manifest.json (checked when read), or null for a folder written by an older refit. */
  manifest: Manifest | null;
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
  /** The run's data fingerprints and config hash, recorded in manifest.json. */
  facts?: Pick<ManifestFacts, 'data' | 'config_sha256'>;
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
  // The manifest goes in last, over the files as they will be read, and before the folder is renamed into place.
  writeManifest(tmp, 'model', modelFacts(tmp, refit, config as unknown as ModelDims, opts.facts));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

/** The facts a model folder's manifest states: relations, vocabulary, dimensions (and the run's, when given). */
function modelFacts(
  dir: string,
  refit: RefitJson,
  config: ModelDims,
  run?: Pick<ManifestFacts, 'data' | 'config_sha256'>,
): ManifestFacts {
  return {
    relations: relationFacts(refit.relations, refit.na_label),
    vocab: { size: Vocab.fromFile(join(dir, 'vocab.txt')).size, sha256: sha256File(join(dir, 'vocab.txt')) },
    dims: dimsOf(config),
    ...run,
  };
}

function dimsOf(cfg: ModelDims): ModelDims {
  return {
    vocab_size: cfg.vocab_size,
    hidden_size: cfg.hidden_size,
    num_hidden_layers: cfg.num_hidden_layers,
    num_attention_heads: cfg.num_attention_heads,
    intermediate_size: cfg.intermediate_size,
    max_position_embeddings: cfg.max_position_embeddings,
    type_vocab_size: cfg.type_vocab_size,
  };
}

/** How to get a model folder whose files agree again: the ONNX files are exported anew, the others are the run's. */
const MODEL_FIX: Readonly<Record<string, string>> = {
  'model.onnx': 'export it again with refit export --run DIR',
  'model.int8.onnx': 'export it again with refit export --run DIR --quantize int8',
  '*': 'the model folder is not the one refit wrote: copy the whole folder from its run, or train again',
};

/**
 * What the model folder's files say against its manifest's facts: refit.json's relation list, config.json's
 * dimensions, vocab.txt's size. The first difference, or null.
 */
function factDifference(
  m: Manifest,
  got: { refit: RefitJson; dims: ModelDims; vocab_size: number },
): { file: string; what: string } | null {
  if (m.relations) {
    const d = relationDifference(m.relations.names, got.refit.relations, 'the manifest');
    if (d) return { file: 'refit.json', what: d };
  }
  if (m.dims) {
    for (const [k, v] of Object.entries(m.dims))
      if (got.dims[k as keyof ModelDims] !== v)
        return {
          file: 'config.json',
          what: `${k} ${got.dims[k as keyof ModelDims]}, the manifest says ${v}`,
        };
  }
  if (m.vocab && m.vocab.size !== got.vocab_size)
    return { file: 'vocab.txt', what: `${got.vocab_size} tokens, the manifest says ${m.vocab.size}` };
  return null;
}

/**
 * Reads `<run>/model` (or a model folder given directly); a missing or foreign folder is one clear line, and so is a
 * folder whose files do not match its manifest.json (checked here, for every engine and command that loads a model).
 */
export function readModelFolder(run_dir: string, o: { warn?: (line: string) => void } = {}): LoadedModel {
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
  const dims = dimsOf(readJson<ModelDims>(join(dir, 'config.json'), 'E_RUN_MODEL'));
  const vocab_path = join(dir, 'vocab.txt');
  const vocab = Vocab.fromFile(vocab_path);
  const manifest = verifyFolder(dir, {
    what: 'model',
    warn: o.warn,
    fix: MODEL_FIX,
    optional: ['model.onnx', 'model.int8.onnx'], // gone: the torch engine answers (or --engine onnx says so)
    facts: (m) => factDifference(m, { refit, dims, vocab_size: vocab.size }),
  });
  // Without a manifest: a vocabulary with ids past the model's embedding is another model's.
  if (vocab.size > dims.vocab_size)
    throw new RefitError(
      'E_MANIFEST',
      `${vocab_path}: ${vocab.size} tokens, more than the model's vocab_size ${dims.vocab_size} ` +
        `(${join(dir, 'config.json')}): another model's vocabulary`,
    );
  checkModelWeights(dir); // a truncated or garbled model.safetensors is one line here, before a worker starts
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
  return {
    dir,
    refit,
    dims,
    relations: { names: refit.relations, na_label: refit.na_label },
    text,
    manifest,
  };
}
