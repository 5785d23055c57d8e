// FewRel JSON reader: `{relation_id: [{"tokens": […], "h": [name, id, [[token idx…]]], "t": […]}, …]}`.
// Tokens join with spaces; a mention spans its first mention's first to last token. Relation = the key (a P-id).
import { DataError } from '../../errors.ts';
import type { Example, Mention } from '../types.ts';
import { objectLines, parseJsonFile } from './json-scan.ts';
import type { ReadOptions, Reader, SniffResult } from './reader.ts';
import { readText } from './text-file.ts';

/** Reads FewRel 1.0 files such as `val_wiki.json`. */
export const fewrelReader: Reader = Object.freeze({
  name: 'fewrel',
  sniff(_path: string, head: string): SniffResult {
    if (/^\s*\{\s*"[^"]*"\s*:\s*\[\s*\{/.test(head) && head.includes('"tokens"')) return { score: 3 };
    return { score: 0, why: 'not a JSON object of relation → [{"tokens", "h", "t"}, …]' };
  },
  read: readFewrel,
});

async function* readFewrel(path: string, opts: ReadOptions): AsyncIterable<Example> {
  const text = opts.text ?? (await readText(path));
  const root = parseJsonFile(path, text);
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    throw new DataError(
      'E_DATA_JSON',
      { path },
      'expected a JSON object mapping each relation to a list of instances',
    );
  }
  const lines = objectLines(text, 2);
  let n = 0;
  for (const [relation, items] of Object.entries(root)) {
    if (!Array.isArray(items))
      throw new DataError('E_DATA_JSON', { path }, `relation '${relation}' does not map to a list`);
    for (const item of items) {
      const line = lines[n++];
      const example = fewrelExample(item, (what) => opts.bad(line, what));
      if (example) yield { ...example, relation, file: path, line };
    }
  }
}

function fewrelExample(
  item: unknown,
  bad: (what: string) => void,
): Pick<Example, 'text' | 'head' | 'tail'> | null {
  const it = item as { tokens?: unknown; h?: unknown; t?: unknown };
  if (!Array.isArray(it?.tokens) || !it.tokens.every((t) => typeof t === 'string')) {
    bad('needs "tokens" (a list of strings)');
    return null;
  }
  const tokens = it.tokens as string[];
  const starts: number[] = [];
  let text = '';
  for (const t of tokens) {
    if (starts.length) text += ' ';
    starts.push(text.length);
    text += t;
  }
  const span = (role: string, m: unknown): Mention | null => {
    const idx =
      Array.isArray(m) && Array.isArray(m[2]) && Array.isArray(m[2][0]) ? (m[2][0] as unknown[]) : undefined;
    if (
      !idx ||
      idx.length === 0 ||
      !idx.every((i) => Number.isInteger(i) && (i as number) >= 0 && (i as number) < tokens.length)
    ) {
      bad(`${role} token positions are missing or outside the token list (0..${tokens.length - 1})`);
      return null;
    }
    const first = Math.min(...(idx as number[]));
    const last = Math.max(...(idx as number[]));
    const start = starts[first];
    const end = starts[last] + tokens[last].length;
    return { text: text.slice(start, end), start, end };
  };
  const head = span('h', it.h);
  if (!head) return null;
  const tail = span('t', it.t);
  if (!tail) return null;
  return { text, head, tail };
}
