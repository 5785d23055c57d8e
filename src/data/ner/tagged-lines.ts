// The line parser every NER reader shares: one `token TAG` line per token, a blank (or whitespace-only) line
// between sentences, `-DOCSTART-` lines skipped (as DeepKE's readfile does). Fields are split on spaces and TABs
// only, so a token that is itself another kind of space (U+3000, U+FEFF…) stays a token. A bad line spoils its
// sentence: it is reported (file:line) and the sentence is left out; the tag scheme is checked over the file.
import { DataError } from '../../errors.ts';
import type { ReadOptions } from '../readers/reader.ts';
import { decodeSpans } from './spans.ts';
import { parseTag, schemeOf } from './tags.ts';
import type { NerDataset, NerSentence } from './types.ts';

/** Longer than anything sensible (BERT reads 510 sub-tokens): a missing blank line between sentences. */
export const MAX_SENTENCE_TOKENS = 1000;
/** A file whose tokens are single characters this often joins them with '' (Chinese), else with ' '. */
const CHAR_LEVEL_SHARE = 0.9;

const BLANK = /^[ \t]*$/;
const FIELD_SEP = /[ \t]+/;

/** How a reader turns a line's fields into a token and a tag, or says why it cannot (one line). */
export type LineFields = (fields: string[]) => { token: string; tag: string } | string;

/** Parses `text` into sentences with `fields`; row problems go to `opts.bad`, a mixed scheme throws. */
export function parseTagged(o: {
  path: string;
  text: string;
  format: string;
  fields: LineFields;
  opts: ReadOptions;
}): NerDataset {
  const { path, opts } = o;
  const lines = o.text.split('\n');
  const sentences: NerSentence[] = [];
  const prefixLine = new Map<string, number>();
  const tagsSeen = new Set<string>();
  let tokens: string[] = [];
  let tags: string[] = [];
  let first = 0;
  let bad = false;
  const flush = (end: number) => {
    if (tokens.length > MAX_SENTENCE_TOKENS && !bad) {
      opts.bad(
        first,
        `sentence of ${tokens.length} tokens (lines ${first}-${end}) is longer than ${MAX_SENTENCE_TOKENS}; ` +
          'separate sentences with a blank line',
      );
    } else if (tokens.length > 0 && !bad) {
      const { spans, irregular } = decodeSpans(tags);
      sentences.push({ tokens, tags, spans, irregular, text: '', offsets: [], file: path, line: first });
    }
    tokens = [];
    tags = [];
    bad = false;
  };
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (BLANK.test(raw) || raw.startsWith('-DOCSTART')) {
      flush(i);
      continue;
    }
    if (tokens.length === 0 && !bad) first = i + 1;
    if (bad) continue;
    const got = o.fields(raw.replace(/^[ \t]+|[ \t]+$/g, '').split(FIELD_SEP));
    const parsed = typeof got === 'string' ? null : parseTag(got.tag);
    if (typeof got === 'string' || !parsed) {
      const what =
        typeof got === 'string'
          ? got
          : `tag '${got.tag}' is not O or B-/I-/M-/E-/S- followed by a type (e.g. B-PER)`;
      opts.bad(i + 1, what);
      bad = true;
      continue;
    }
    if (!prefixLine.has(parsed.prefix)) prefixLine.set(parsed.prefix, i + 1);
    tagsSeen.add(got.tag);
    tokens.push(got.token);
    tags.push(got.tag);
  }
  flush(lines.length);
  const scheme = schemeOf(new Set(prefixLine.keys()));
  if (typeof scheme !== 'string') {
    const line = Math.max(prefixLine.get('M')!, prefixLine.get('I')!);
    throw new DataError(
      'E_DATA_FORMAT',
      { path, line },
      `mixed tag schemes: ${scheme.clash} in one file (first M- at line ${prefixLine.get('M')}, first I- at ` +
        `line ${prefixLine.get('I')}); use one scheme`,
    );
  }
  const joiner = joinerOf(sentences);
  for (const s of sentences) setText(s, joiner);
  return { sentences, format: o.format, scheme, joiner, tags: [...tagsSeen] };
}

/** '' when nearly every token is one code point (characters), else ' ' (words). */
function joinerOf(sentences: NerSentence[]): '' | ' ' {
  let n = 0;
  let single = 0;
  for (const s of sentences)
    for (const t of s.tokens) {
      n++;
      if (t.length === 1 || (t.length === 2 && t.codePointAt(0)! > 0xffff)) single++;
    }
  return n > 0 && single >= CHAR_LEVEL_SHARE * n ? '' : ' ';
}

function setText(s: NerSentence, joiner: '' | ' '): void {
  let at = 0;
  for (const t of s.tokens) {
    s.offsets.push(at);
    at += [...t].length + joiner.length;
  }
  s.text = s.tokens.join(joiner);
}
