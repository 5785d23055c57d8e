// The NER file formats: DeepKE's standard-NER `char TAG` (one space), CoNLL-style `token<TAB>…<TAB>TAG` and
// Weibo NER as published (`char<position digit><TAB>TAG`). Each is a sniff and a way to read a line's fields;
// tagged-lines.ts does the rest. Unlike the relation readers, `read` returns the whole file: the scheme and the
// joiner are properties of the file, not of a row.
import type { ReadOptions, SniffResult } from '../readers/reader.ts';
import { readText, extensionOf } from '../readers/text-file.ts';
import { parseTagged, type LineFields } from './tagged-lines.ts';
import { isTagShape } from './tags.ts';
import type { NerDataset } from './types.ts';

/** One NER format: `sniff` judges the first ≤ 8 KB of text, `read` parses the whole file. */
export interface NerReader {
  readonly name: string;
  sniff(path: string, head: string): SniffResult;
  read(path: string, opts: ReadOptions): Promise<NerDataset>;
}

/** Share of the head's lines that must have the format's fields, and of them the share with a tag-shaped tag. */
const SNIFF_SHARE = 0.6;
const SNIFF_TAG_SHARE = 0.5;
const SNIFF_LINES = 200;

/** The head's non-blank lines (the last, maybe cut, left out), at most SNIFF_LINES. */
function headLines(head: string): string[] {
  const lines = head.split('\n');
  if (!head.endsWith('\n')) lines.pop(); // the last line may be cut at the head's end
  return lines.filter((l) => !/^[ \t]*$/.test(l) && !l.startsWith('-DOCSTART')).slice(0, SNIFF_LINES);
}

function reader(o: {
  name: string;
  /** A line with the format's fields; group 1 is the tag. */
  fits: RegExp;
  /** Score when the head fits; a matching extension adds one. */
  score: number;
  ext?: string;
  why: string;
  fields: LineFields;
}): NerReader {
  return Object.freeze({
    name: o.name,
    sniff(path: string, head: string): SniffResult {
      // a few bad lines still leave the file to this reader, so that reading names them (file:line)
      const lines = headLines(head);
      const fit = lines.map((l) => o.fits.exec(l)).filter((m) => m !== null);
      const tagged = fit.filter((m) => isTagShape(m[1])).length;
      if (
        lines.length === 0 ||
        fit.length < SNIFF_SHARE * lines.length ||
        tagged < SNIFF_TAG_SHARE * lines.length
      )
        return { score: 0, why: o.why };
      return { score: o.score + (o.ext !== undefined && extensionOf(path) === o.ext ? 1 : 0) };
    },
    async read(path: string, opts: ReadOptions): Promise<NerDataset> {
      const text = opts.text ?? (await readText(path));
      return parseTagged({ path, text, format: o.name, fields: o.fields, opts });
    },
  });
}

const fieldCount = (want: string, n: number) =>
  `expected ${want}, found ${n === 1 ? 'one field' : `${n} fields`}`;

/** DeepKE standard NER: `char TAG`, one space, a blank line between sentences (train.txt/valid.txt/test.txt). */
export const deepkeNerReader = reader({
  name: 'deepke-ner',
  fits: /^[^ \t]+ ([^ \t]+)[ \t]*$/,
  score: 3,
  ext: 'txt',
  why: 'lines are not `token TAG` (one space) with BIO/BIOES/BMES tags',
  fields: (f) =>
    f.length === 2 ? { token: f[0], tag: f[1] } : fieldCount('`token TAG` (two fields)', f.length),
});

/** CoNLL-style: `token<TAB>TAG` (or more TAB-separated columns, the tag last, as in CoNLL-2003). */
export const conllNerReader = reader({
  name: 'conll',
  fits: /^[^\t]+(?:\t[^\t]*)*\t([^ \t]+)[ \t]*$/,
  score: 3,
  ext: 'conll',
  why: 'lines are not `token<TAB>TAG` with BIO/BIOES/BMES tags',
  fields: (f) => (f.length >= 2 ? { token: f[0], tag: f[f.length - 1] } : fieldCount('`token<TAB>TAG`', 1)),
});

/**
 * Weibo NER as published (Peng & Dredze): `char<position><TAB>TAG`, the position (one or more digits) the
 * character's place in its word. The character is the first code point when digits follow it (`310` is `3` at
 * place 10), else what precedes the digits (a character the publisher mangled into two U+FFFD).
 */
export const weiboConllReader = reader({
  name: 'weibo-conll',
  fits: /^.{1,2}\d+\t([^ \t]+)[ \t]*$/u,
  score: 5,
  why: 'lines are not `char<position digits><TAB>TAG`',
  fields: (f) => {
    if (f.length !== 2) return fieldCount('`char<digits><TAB>TAG`', f.length);
    const m = /^(.)\d+$/u.exec(f[0]) ?? /^(.+?)\d+$/u.exec(f[0]);
    if (!m) return `token '${f[0]}' does not end in a word-position number`;
    return { token: m[1], tag: f[1] };
  },
});
