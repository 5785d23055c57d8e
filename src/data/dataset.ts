// readDataset: read one data file with the right reader (detected or forced), check relations against the
// relation list, and apply data.on_bad_row. The first few bad rows become one MultiError (exit 2).
import { basename } from 'node:path';
import { ConfigError, DataError, MultiError, RefitError } from '../errors.ts';
import type { Example, RelationSet } from './types.ts';
import { READERS, readText, type Reader } from './readers/index.ts';
import { NER_READERS } from './ner/registry.ts';
import { didYouMean } from '../suggest.ts';
import { own } from '../own.ts';

/** How many bad rows are collected before reading stops with an error. */
export const MAX_BAD_ROWS = 5;
const SNIFF_CHARS = 8192;

/** What to do with a bad row: stop with an error (default), drop it silently, or drop it with a warning line. */
export type OnBadRow = 'error' | 'skip' | 'warn';

/** Options of readDataset; `relations_path` only names the relation list in messages. */
export interface ReadDatasetOptions {
  path: string;
  format?: string;
  relations?: RelationSet;
  relations_path?: string;
  na_label?: string;
  on_bad_row?: OnBadRow;
  warn?: (line: string) => void;
}

/** A file's examples with the reader that read them and what was counted on the way. */
export interface Dataset {
  examples: Example[];
  format: string;
  offset_fallbacks: number;
  skipped_rows: number;
}

/** Reads one data file into examples; bad input throws a RefitError whose lines are `PATH:LINE: what`. */
export async function readDataset(opts: ReadDatasetOptions): Promise<Dataset> {
  const { path } = opts;
  const text = await readText(path);
  const reader = pickReader({ path, text, format: opts.format });
  checkNaLabel(opts);
  const bad = new BadRows(path, opts.on_bad_row ?? 'error', opts.warn);
  const known = opts.relations ? new Set(opts.relations.names) : undefined;
  const where = opts.relations_path ? basename(opts.relations_path) : 'the relation list';
  const examples: Example[] = [];
  let offset_fallbacks = 0;
  for await (const ex of reader.read(path, { text, bad: (line, what) => bad.report(line, what) })) {
    if (known && ex.relation !== undefined && !known.has(ex.relation)) {
      bad.report(
        ex.line,
        `relation '${ex.relation}' is not in ${where}${didYouMean(ex.relation, opts.relations!.names)}`,
      );
      continue;
    }
    if (ex.offset_fallback) offset_fallbacks++;
    examples.push(ex);
  }
  bad.finish();
  if (examples.length === 0) {
    if (bad.first)
      throw new RefitError('E_DATA_EMPTY', `${bad.first} (no usable rows: all ${bad.skipped} rows are bad)`);
    throw new DataError('E_DATA_EMPTY', { path }, 'no examples');
  }
  return { examples, format: reader.name, offset_fallbacks, skipped_rows: bad.skipped };
}

/** The forced reader, or the best-scoring one; when none fits, every reader's reason goes into one line. */
export function pickReader(opts: { path: string; text: string; format?: string }): Reader {
  const { path, text, format } = opts;
  const names = Object.keys(READERS);
  if (format !== undefined) {
    const reader = own(READERS, format);
    if (reader) return reader;
    if (own(NER_READERS, format))
      throw new ConfigError(
        'E_CONFIG_VALUE',
        `data.format '${format}' is an NER format; relation data is one of ${names.join(', ')}`,
      );
    const all = [...names, ...Object.keys(NER_READERS)];
    throw new ConfigError(
      'E_CONFIG_VALUE',
      `data.format '${format}' is not a known format${didYouMean(format, all)}; use one of ${all.join(', ')}`,
    );
  }
  const head = text.slice(0, SNIFF_CHARS);
  let best: Reader | undefined;
  let bestScore = 0;
  const why: string[] = [];
  for (const reader of Object.values(READERS)) {
    const s = reader.sniff(path, head);
    if (s.score > bestScore) {
      best = reader;
      bestScore = s.score;
    }
    if (s.score === 0) why.push(`${reader.name}: ${s.why ?? 'no match'}`);
  }
  if (best) return best;
  // no relation reader fits: the NER readers' reasons (they did not claim the file either) go into the same line
  for (const reader of Object.values(NER_READERS)) {
    const s = reader.sniff(path, head);
    if (s.score === 0) why.push(`${reader.name}: ${s.why ?? 'no match'}`);
  }
  throw new DataError(
    'E_DATA_FORMAT',
    { path },
    `cannot tell the data format (${why.join('; ')}); set data.format`,
  );
}

function checkNaLabel(opts: ReadDatasetOptions): void {
  if (opts.na_label === undefined || !opts.relations) return;
  if (!opts.relations.names.includes(opts.na_label)) {
    throw new ConfigError(
      'E_CONFIG_VALUE',
      `data.na_label '${opts.na_label}' is not a relation${didYouMean(opts.na_label, opts.relations.names)}`,
    );
  }
}

/** Applies on_bad_row: collects up to MAX_BAD_ROWS lines for `error`, counts the rest. */
export class BadRows {
  skipped = 0;
  /** The first bad row's line, kept under skip/warn too: it explains a file in which no row was usable. */
  first?: string;
  private readonly lines: string[] = [];
  constructor(
    private readonly path: string,
    private readonly policy: OnBadRow,
    private readonly warn?: (line: string) => void,
  ) {}
  report(line: number | undefined, what: string): void {
    const msg = `${this.path}${line !== undefined ? `:${line}` : ''}: ${what}`;
    this.first ??= msg;
    if (this.policy !== 'error') {
      this.skipped++;
      if (this.policy === 'warn') this.warn?.(msg);
      return;
    }
    this.lines.push(msg);
    if (this.lines.length >= MAX_BAD_ROWS) this.finish();
  }
  /** Throws the collected lines, if any (one line stays one line). */
  finish(): void {
    if (this.lines.length > 0) throw new MultiError('E_DATA_ROW', this.lines);
  }
}
