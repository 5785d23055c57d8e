// OpenNRE JSONL reader: one object per line with `token` (a token list, `pos` = token indices) or `text`
// (`pos` = character offsets). `pos` ends are exclusive, except where only the inclusive end reproduces `name`
// (people-relation's files use [start, end] inclusive), which is detected per mention.
import type { Example, Mention } from '../types.ts';
import { parseJson } from './json-scan.ts';
import type { ReadOptions, Reader, SniffResult } from './reader.ts';
import { extensionOf, readText, splitLines } from './text-file.ts';
import { codePointLength, codePointToUtf16 } from './locate.ts';

/** Reads OpenNRE-style `.jsonl`/`.txt` files (`{"token": […], "h": {"name", "pos"}, "t": {…}, "relation"}`). */
export const opennreReader: Reader = Object.freeze({
  name: 'opennre',
  sniff(path: string, head: string): SniffResult {
    const first = (head.split('\n').find((l) => l.trim() !== '') ?? '').trimStart();
    if (first.startsWith('{') && /"(token|text)"/.test(first) && first.includes('"h"'))
      return { score: extensionOf(path) === 'jsonl' ? 4 : 3 };
    if (extensionOf(path) === 'jsonl') return { score: 1 };
    return { score: 0, why: 'first line is not a JSON object with "token"/"text" and "h"' };
  },
  read: readOpennre,
});

async function* readOpennre(path: string, opts: ReadOptions): AsyncIterable<Example> {
  const lines = splitLines(opts.text ?? (await readText(path)));
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const bad = (what: string) => opts.bad(i + 1, what);
    const parsed = parseJson(lines[i]);
    if (!parsed.ok) {
      bad(`broken JSON at column ${parsed.column}: ${parsed.what}`);
      continue;
    }
    const example = lineExample(parsed.value, bad);
    if (example) yield { ...example, file: path, line: i + 1 };
  }
}

type Bad = (what: string) => void;
type Item = Record<string, unknown>;

function lineExample(value: unknown, bad: Bad): Omit<Example, 'file' | 'line'> | null {
  if (!isObject(value)) {
    bad('expected a JSON object');
    return null;
  }
  const source = textAndStarts(value, bad);
  if (!source) return null;
  const head = mention({ role: 'h', value: value.h, src: source, bad });
  if (!head) return null;
  const tail = mention({ role: 't', value: value.t, src: source, bad });
  if (!tail) return null;
  if (value.relation !== undefined && typeof value.relation !== 'string') {
    bad('relation must be a string');
    return null;
  }
  const example: Omit<Example, 'file' | 'line'> = { text: source.text, head, tail };
  if (typeof value.relation === 'string') example.relation = value.relation;
  return example;
}

/** The sentence and, in token mode, each token's start; Chinese single-character tokens join without spaces. */
interface Source {
  text: string;
  starts?: number[];
  ends?: number[];
}

function textAndStarts(item: Item, bad: Bad): Source | null {
  if (typeof item.text === 'string' && item.token === undefined) return { text: item.text };
  const tokens = item.token;
  if (!Array.isArray(tokens) || tokens.length === 0 || !tokens.every((t) => typeof t === 'string')) {
    bad('needs "token" (a non-empty list of strings) or "text"');
    return null;
  }
  const sep = isCharTokens(tokens as string[]) ? '' : ' ';
  const starts: number[] = [];
  const ends: number[] = [];
  let text = '';
  for (const t of tokens as string[]) {
    if (text !== '' && sep) text += sep;
    starts.push(text.length);
    text += t;
    ends.push(text.length);
  }
  return { text, starts, ends };
}

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;

/** True for character-tokenized Chinese: every token one character and at least one of them CJK. */
function isCharTokens(tokens: string[]): boolean {
  return tokens.every((t) => t.length <= 1) && tokens.some((t) => CJK.test(t));
}

function mention(o: { role: 'h' | 't'; value: unknown; src: Source; bad: Bad }): Mention | null {
  const { role, value, src, bad } = o;
  if (
    !isObject(value) ||
    !Array.isArray(value.pos) ||
    value.pos.length !== 2 ||
    !value.pos.every(Number.isInteger)
  ) {
    bad(`${role}.pos must be [start, end] (two whole numbers)`);
    return null;
  }
  const [s, e] = value.pos as number[];
  // text mode: `pos` counts code points (Python's str index), like every offset refit reads
  const units = src.starts ? src.starts.length : codePointLength(src.text);
  const unit = src.starts ? 'tokens' : 'characters';
  if (s < 0 || s >= units || e > units || s > e) {
    bad(`${role}.pos [${s}, ${e}] is outside the ${unit} (0..${units})`);
    return null;
  }
  const name = typeof value.name === 'string' ? value.name : undefined;
  // exclusive end first (OpenNRE's convention); inclusive only when it alone reproduces the name
  for (const end of e > s ? [e, e + 1] : [e + 1]) {
    if (end > units) continue;
    const span = src.starts
      ? { start: src.starts[s], end: src.ends![end - 1] }
      : { start: codePointToUtf16(src.text, s), end: codePointToUtf16(src.text, end) };
    const text = src.text.slice(span.start, span.end);
    if (name === undefined || sameName(text, name)) {
      const m: Mention = { text, ...span };
      if (typeof value.type === 'string') m.type = value.type;
      return m;
    }
  }
  bad(`${role}.name '${name}' is not at ${role}.pos [${s}, ${e}]`);
  return null;
}

function sameName(a: string, b: string): boolean {
  return a === b || a.replace(/\s+/g, '').toLowerCase() === b.replace(/\s+/g, '').toLowerCase();
}

function isObject(v: unknown): v is Item {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
