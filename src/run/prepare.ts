// Preparing a run's inputs: data files → examples, relation set, tokenizer and markers, encoded datasets
// (cached by content), and the model's dims. Everything here is TS-side; no worker is started.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canWriteFolder, userCacheDir } from './out-paths.ts';
import { ConfigError, RefitError } from '../errors.ts';
import type { Example, RelationSet } from '../data/types.ts';
import type { NerSentence } from '../data/index.ts';
import { readDataset, readRelations, relationSetFromExamples } from '../data/index.ts';
import { Vocab, WordPieceTokenizer } from '../tokenize/index.ts';
import { defaultMarkers, writeEncodedDataset } from '../encode/index.ts';
import { knownModelDims, loadModelDims, withLayers, type ModelDims } from '../memory/index.ts';
import type { RunConfig } from '../config/index.ts';
import { resolveDataPaths, type TextSide } from '../session/index.ts';

/**
 * One encoded split: its examples (relations) or sentences (task: ner; `examples` is then empty), the dataset
 * file and the per-example lengths.
 */
export interface EncodedSplit {
  name: string;
  /** Examples or sentences in the split (the dataset file's rows). */
  size: number;
  examples: Example[];
  sentences?: NerSentence[];
  path: string;
  lengths: Int32Array;
  total_tokens: number;
  truncated: number;
}

/** Reads train/valid/test and the relation set; the relation set comes from the relation file or the training data. */
export async function readSplits(opts: { config: RunConfig; warn: (line: string) => void }): Promise<{
  relations: RelationSet;
  format: string;
  train: Example[];
  valid: Example[];
  test: Example[];
  paths: Awaited<ReturnType<typeof resolveDataPaths>>;
}> {
  const { config } = opts;
  const paths = await resolveDataPaths(config);
  if (!paths.train)
    throw new ConfigError('E_NO_DATA', 'no training data: set data.train=FILE (or a DeepKE data folder)');
  const common = {
    format: config.data.format,
    na_label: config.data.na_label,
    on_bad_row: config.data.on_bad_row,
    warn: opts.warn,
  };
  let relations = paths.relations ? await readRelations(paths.relations) : undefined;
  if (relations && config.data.na_label) relations = { ...relations, na_label: config.data.na_label };
  const train = await readDataset({ path: paths.train, relations, ...common });
  relations ??= relationSetFromExamples(train.examples, config.data.na_label);
  const read = async (p?: string) =>
    p ? (await readDataset({ path: p, relations, ...common })).examples : [];
  const [valid, test] = [await read(paths.valid), await read(paths.test)];
  if (config.data.num_relations !== undefined && config.data.num_relations !== relations.names.length) {
    throw new ConfigError(
      'E_NUM_RELATIONS',
      `data.num_relations is ${config.data.num_relations} but the relation set has ` +
        `${relations.names.length} relations (${relations.names.slice(0, 5).join(', ')}…)`,
    );
  }
  return { relations, format: train.format, train: train.examples, valid, test, paths };
}

/** Guesses casing from a vocabulary: a vocab with no upper-case word pieces belongs to an uncased model. */
function vocabIsUncased(vocab: Vocab): boolean {
  for (let i = 0; i < vocab.size; i++) {
    const t = vocab.token(i);
    if (!t.startsWith('[') && /[A-Z]/.test(t)) return false;
  }
  return true;
}

/**
 * Refuses a model.pretrained that is not a folder here. A Hugging Face id (DeepKE's `lm_file:
 * bert-base-chinese`) gets the download command: refit never fetches weights at run time.
 */
function assertLocalModel(pretrained: string): void {
  if (existsSync(pretrained)) return;
  const known = knownModelDims(pretrained);
  if (known) {
    const local = `models/${known.id.split('/').at(-1)}`;
    throw new RefitError(
      'E_MODEL_NOT_LOCAL',
      `model.pretrained '${known.id}' is a Hugging Face model id, not a folder here: download it ` +
        `(huggingface-cli download ${known.id} --local-dir ${local}) and set model.pretrained=${local}`,
    );
  }
  throw new RefitError(
    'E_MODEL_FILES',
    `${pretrained}: no such model folder (model.pretrained must be a Hugging Face model folder with ` +
      `config.json, vocab.txt and weights)`,
  );
}

/** The vocabulary, tokenizer and markers for a config: model.vocab, else the pretrained folder's vocab.txt. */
export function textSide(config: RunConfig): TextSide {
  const m = config.model;
  if (m.pretrained) assertLocalModel(m.pretrained);
  const vocab_path = m.vocab ?? (m.pretrained ? join(m.pretrained, 'vocab.txt') : undefined);
  if (!vocab_path)
    throw new ConfigError(
      'E_NO_VOCAB',
      'no vocabulary: set model.vocab=vocab.txt (or model.pretrained=DIR with a vocab.txt)',
    );
  if (!existsSync(vocab_path))
    throw new RefitError('E_MODEL_FILES', `${vocab_path}: vocabulary file missing`);
  const vocab = Vocab.fromFile(vocab_path);
  // deepke-lm: DeepKE's BertTokenizer.from_pretrained(lm_file) lower-cases unless tokenizer_config.json says otherwise.
  const lowercase =
    m.lowercase ??
    pretrainedLowercase(m.pretrained) ??
    (m.head === 'deepke-lm' && m.pretrained ? true : vocabIsUncased(vocab));
  return {
    vocab_path,
    vocab,
    tokenizer: new WordPieceTokenizer(vocab, { lowercase }),
    lowercase,
    markers: defaultMarkers(vocab, { typed: false }),
    ...(m.head === 'deepke-lm' ? { deepke_lm: {} } : {}),
  };
}

function pretrainedLowercase(dir: string | undefined): boolean | undefined {
  const f = dir ? join(dir, 'tokenizer_config.json') : undefined;
  if (!f || !existsSync(f)) return undefined;
  try {
    const v = (JSON.parse(readFileSync(f, 'utf8')) as { do_lower_case?: unknown }).do_lower_case;
    return typeof v === 'boolean' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where encoded datasets are cached: the user cache folder (REFIT_CACHE, else $XDG_CACHE_HOME/refit or ~/.cache/refit);
 * when that cannot be written, inside the run folder (`<out>/.refit-cache`). Never beside the run folder.
 */
export function cacheDir(opts: { out?: string; env: Record<string, string | undefined> }): string {
  const user = userCacheDir(opts.env);
  if (!opts.out || opts.env.REFIT_CACHE || canWriteFolder(user)) return user;
  return join(opts.out, RUN_CACHE_DIR);
}

/** The cache folder's name inside a run folder (used only when the user cache folder cannot be written). */
export const RUN_CACHE_DIR = '.refit-cache';

/** Encodes one split into the cache (reused when its inputs did not change). */
export async function encodeSplit(opts: {
  name: string;
  examples: Example[];
  relations: RelationSet;
  text: TextSide;
  max_seq_len: number;
  cache_dir: string;
}): Promise<EncodedSplit> {
  const r = await writeEncodedDataset({
    examples: opts.examples,
    relations: opts.relations,
    tokenizer: opts.text.tokenizer,
    max_seq_len: opts.max_seq_len,
    markers: opts.text.markers,
    deepke_lm: opts.text.deepke_lm,
    cache_dir: opts.cache_dir,
  });
  return {
    name: opts.name,
    size: opts.examples.length,
    examples: opts.examples,
    path: r.path,
    lengths: r.lengths,
    total_tokens: r.total_tokens,
    truncated: r.truncated,
  };
}

/**
 * The model's dims: the pretrained folder's config.json, or a preset sized to the vocabulary;
 * num_hidden_layers may cut layers.
 */
export function modelDims(config: RunConfig, vocab_size: number): ModelDims {
  const m = config.model;
  const spec = m.pretrained ?? m.preset;
  if (!spec)
    throw new ConfigError(
      'E_NO_MODEL',
      'no model: set model.preset=bert-mini (random init, with model.vocab) or model.pretrained=DIR',
    );
  const dims = loadModelDims(spec, m.pretrained ? undefined : { vocab_size });
  if (m.pretrained && dims.vocab_size !== vocab_size) {
    throw new RefitError(
      'E_MODEL_SHAPE',
      `${join(m.pretrained, 'config.json')}: vocab_size ${dims.vocab_size} does not match vocab.txt (` +
        `${vocab_size} tokens)`,
    );
  }
  // Keeping the first N layers cannot add layers: a larger N would silently mean the model's own count.
  if (m.num_hidden_layers && m.num_hidden_layers > dims.num_hidden_layers)
    throw new ConfigError(
      'E_MODEL_SHAPE',
      `model.num_hidden_layers=${m.num_hidden_layers}: ${spec} has ${dims.num_hidden_layers} encoder layers; ` +
        `keep at most ${dims.num_hidden_layers} (or leave it unset for all of them)`,
    );
  return withLayers(dims, m.num_hidden_layers);
}
