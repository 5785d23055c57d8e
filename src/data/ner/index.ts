// The NER data surface: the NER formats in one frozen map, picking one (forced or sniffed) and reading a file
// with data.on_bad_row applied. Relation formats stay in ../readers; a file is NER when an NER reader claims it.
import { ConfigError, DataError, RefitError } from '../../errors.ts';
import { own } from '../../own.ts';
import { didYouMean } from '../../suggest.ts';
import { BadRows, type OnBadRow } from '../dataset.ts';
import { readText } from '../readers/text-file.ts';
import type { NerReader } from './readers.ts';
import { NER_READERS } from './registry.ts';
import type { NerDataset, NerFile } from './types.ts';
import { declaredTags, isDeclaredTag } from './tags.ts';

export { NER_READERS } from './registry.ts';
export type { NerReader } from './readers.ts';
export type { NerDataset, NerFile, NerSentence, TokenSpan, EntitySpan, TagScheme } from './types.ts';
export { parseTag, schemeOf, nerLabelNames, declaredTags, isTagShape, type ParsedTag } from './tags.ts';
export { decodeSpans, seqevalChunks, chunkTagOf, endOfChunk, startOfChunk, type Chunk } from './spans.ts';
export { MAX_SENTENCE_TOKENS } from './tagged-lines.ts';
export { entitySpans, predictedEntities, sentenceOfText, type SentenceText } from './entity-spans.ts';
export { nerStats, nerInputKey, type NerFileStats } from './stats.ts';
export { relationRowsToCharBio } from './from-relations.ts';

const SNIFF_CHARS = 8192;

/**
 * The NER reader for a file: the forced one when `format` names an NER format, undefined when it names another
 * (a relation format), else the best-scoring sniff (undefined when none claims the file).
 */
export function pickNerReader(opts: { path: string; text: string; format?: string }): NerReader | undefined {
  if (opts.format !== undefined) return own(NER_READERS, opts.format);
  const head = opts.text.slice(0, SNIFF_CHARS);
  let best: NerReader | undefined;
  let bestScore = 0;
  for (const reader of Object.values(NER_READERS)) {
    const s = reader.sniff(opts.path, head);
    if (s.score > bestScore) {
      best = reader;
      bestScore = s.score;
    }
  }
  return best;
}

/**
 * Reads one NER file (`format` forced or sniffed); bad lines follow `on_bad_row` as for relation files, and
 * `labels` (DeepKE's `labels:` key: tags, or entity types standing for their tags), when given, must declare every
 * tag of the file.
 */
export async function readNerDataset(opts: {
  path: string;
  format?: string;
  labels?: readonly string[];
  on_bad_row?: OnBadRow;
  warn?: (line: string) => void;
  text?: string;
}): Promise<NerFile> {
  const { path } = opts;
  const text = opts.text ?? (await readText(path));
  const reader = pickNerReader({ path, text, format: opts.format });
  if (!reader) {
    if (opts.format !== undefined) {
      const names = Object.keys(NER_READERS);
      throw new ConfigError(
        'E_CONFIG_VALUE',
        `data.format '${opts.format}' is not an NER format${didYouMean(opts.format, names)}; use one of ` +
          names.join(', '),
      );
    }
    throw new DataError(
      'E_DATA_FORMAT',
      { path },
      'not an NER file (lines are not `token TAG`); set data.format',
    );
  }
  const bad = new BadRows(path, opts.on_bad_row ?? 'error', opts.warn);
  const data = await reader.read(path, { text, bad: (line, what) => bad.report(line, what) });
  if (opts.labels) checkLabels(data, opts.labels, bad);
  bad.finish();
  if (data.sentences.length === 0) {
    if (bad.first)
      throw new RefitError('E_DATA_EMPTY', `${bad.first} (no usable sentences: all ${bad.skipped} are bad)`);
    throw new DataError('E_DATA_EMPTY', { path }, 'no sentences');
  }
  return { ...data, skipped_rows: bad.skipped };
}

/**
 * Every tag must be declared by the labels list (declaredTags: its tags, or a type listed bare); a sentence with one
 * that is not is a bad row.
 */
function checkLabels(data: NerDataset, labels: readonly string[], bad: BadRows): void {
  const declared = declaredTags(labels);
  const known = (t: string) => isDeclaredTag(declared, t);
  data.sentences = data.sentences.filter((s) => {
    const k = s.tags.findIndex((t) => !known(t));
    if (k < 0) return true;
    bad.report(
      s.line + k,
      `tag '${s.tags[k]}' is not in the labels list${didYouMean(s.tags[k], ['O', ...declared.tags])}`,
    );
    return false;
  });
  data.tags = data.tags.filter(known);
}
