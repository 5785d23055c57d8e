// Preparing a `task: ner` run's inputs: the NER files of train/valid/test read (data/ner), the tag list (O first)
// and each split encoded into the cache (encode/ner-dataset.ts). The relation side is prepare.ts; nothing here
// starts a worker.
import { ConfigError } from '../errors.ts';
import { nerLabelNames, readNerDataset, type NerFile, type NerSentence } from '../data/index.ts';
import { writeNerDataset } from '../encode/index.ts';
import type { RunConfig } from '../config/index.ts';
import { resolveDataPaths, type TextSide } from '../session/index.ts';
import type { HeadKind } from '../worker/protocol.ts';
import type { EncodedSplit } from './prepare.ts';

/** The NER splits of a run: sentences per split, the tag list (label id = index, `O` first) and the format read. */
export interface NerSplits {
  tags: string[];
  format: string;
  /** '' for character tokens (Chinese), ' ' for words: how predict joins tokens into text. */
  joiner: '' | ' ';
  train: NerSentence[];
  valid: NerSentence[];
  test: NerSentence[];
}

/**
 * Reads train/valid/test as NER files (data.format forced or sniffed); the tag list covers every split's tags, or is
 * data.labels' (DeepKE's `labels:`) when set: a tag outside it is a bad line, a declared tag no split has is kept.
 */
export async function readNerSplits(opts: {
  config: RunConfig;
  warn: (line: string) => void;
}): Promise<NerSplits & { paths: Awaited<ReturnType<typeof resolveDataPaths>> }> {
  const { config } = opts;
  const paths = await resolveDataPaths(config);
  if (!paths.train)
    throw new ConfigError('E_NO_DATA', 'no training data: set data.train=FILE (or a DeepKE data folder)');
  const read = (path: string): Promise<NerFile> =>
    readNerDataset({
      path,
      format: config.data.format,
      labels: config.data.labels,
      on_bad_row: config.data.on_bad_row,
      warn: opts.warn,
    });
  const train = await read(paths.train);
  const valid = paths.valid ? await read(paths.valid) : undefined;
  const test = paths.test ? await read(paths.test) : undefined;
  const files = [train, valid, test].filter((f) => f !== undefined);
  return {
    tags: nerLabelNames({ tags: files.flatMap((f) => f.tags), labels: config.data.labels }),
    format: train.format,
    joiner: train.joiner,
    train: train.sentences,
    valid: valid?.sentences ?? [],
    test: test?.sentences ?? [],
    paths,
  };
}

/** Encodes one NER split into the cache (reused when its inputs did not change). */
export async function encodeNerSplit(opts: {
  name: string;
  sentences: NerSentence[];
  tags: readonly string[];
  text: TextSide;
  max_seq_len: number;
  cache_dir: string;
}): Promise<EncodedSplit> {
  const r = await writeNerDataset({
    sentences: opts.sentences,
    labels: opts.tags,
    tokenizer: opts.text.tokenizer,
    max_seq_len: opts.max_seq_len,
    cache_dir: opts.cache_dir,
  });
  return {
    name: opts.name,
    size: opts.sentences.length,
    examples: [],
    sentences: opts.sentences,
    path: r.path,
    lengths: r.lengths,
    total_tokens: r.total_tokens,
    truncated: r.truncated,
  };
}

/** The head a config trains: the token classifier for task: ner, else model.head (a relation head). */
export function runHead(config: RunConfig): HeadKind {
  return config.task === 'ner' ? 'token' : config.model.head;
}
