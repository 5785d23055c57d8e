// SemEval-2010 Task 8 TSV reader: `label<TAB>sentence` with inline <e1>…</e1> and <e2>…</e2> markers.
// Markers (and the space the R-BERT copy puts inside them) are removed; spans point into the clean text.
// The organisers' TRAIN_FILE.TXT layout (`id<TAB>"sentence"`, then the label and a Comment line) is read too.
import type { Example } from '../types.ts';
import type { ReadOptions, Reader, SniffResult } from './reader.ts';
import { extensionOf, readText, splitLines } from './text-file.ts';

const MARKER = /<(e[12])>\s*|\s*<\/(e[12])>/g;
/** `8001<TAB>"The <e1>…</e1> … <e2>…</e2>."`: the organisers' file layout; group 1 is the sentence. */
const ORIGINAL_LAYOUT = /^\d+\t\s*"(.*)"\s*$/;

/** Reads SemEval-2010 Task 8 in the `label\tsentence` form; e1 is the head, the label is kept verbatim. */
export const semevalReader: Reader = Object.freeze({
  name: 'semeval',
  sniff(path: string, head: string): SniffResult {
    const first = head.split('\n').find((l) => l.trim() !== '') ?? '';
    if (/^[^\t]+\t.*<e1>/.test(first)) return { score: extensionOf(path) === 'tsv' ? 4 : 3 };
    if (extensionOf(path) === 'tsv' && first.includes('\t') && head.includes('<e1>')) return { score: 1 };
    return { score: 0, why: 'first line is not label<TAB>sentence with <e1> markers' };
  },
  read: readSemeval,
});

async function* readSemeval(path: string, opts: ReadOptions): AsyncIterable<Example> {
  const lines = splitLines(opts.text ?? (await readText(path)));
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (raw.trim() === '') continue;
    const tab = raw.indexOf('\t');
    if (tab < 0) {
      opts.bad(i + 1, 'expected label<TAB>sentence (no TAB found)');
      continue;
    }
    const first = raw.slice(0, tab).trim();
    const original = ORIGINAL_LAYOUT.exec(raw);
    const line = i + 1;
    let relation: string | undefined = first;
    if (original) {
      // organisers' layout: the label (absent in TEST_FILE.TXT) and a Comment line follow the sentence
      relation = undefined;
      while (i + 1 < lines.length && lines[i + 1].trim() !== '' && !ORIGINAL_LAYOUT.test(lines[i + 1])) {
        const next = lines[++i].trim();
        if (!next.startsWith('Comment')) relation = next;
      }
    }
    if (relation === '') {
      opts.bad(line, 'label is empty');
      continue;
    }
    const parsed = stripMarkers(original ? original[1] : raw.slice(tab + 1));
    if (typeof parsed === 'string') {
      opts.bad(line, parsed);
      continue;
    }
    yield relation === undefined
      ? { ...parsed, file: path, line }
      : { ...parsed, relation, file: path, line };
  }
}

/** Removes the four markers; returns the clean text and spans, or a one-line reason when they are malformed. */
export function stripMarkers(
  sentence: string,
): { text: string; head: Example['head']; tail: Example['tail'] } | string {
  const open: Record<string, number> = {};
  const close: Record<string, number> = {};
  let text = '';
  let last = 0;
  for (const m of sentence.matchAll(MARKER)) {
    text += sentence.slice(last, m.index);
    last = m.index! + m[0].length;
    const seen = m[1] ? open : close;
    const name = m[1] ?? m[2];
    if (seen[name] !== undefined) return `marker <${m[1] ? '' : '/'}${name}> appears twice`;
    seen[name] = text.length;
  }
  text += sentence.slice(last);
  for (const e of ['e1', 'e2']) {
    if (open[e] === undefined || close[e] === undefined)
      return 'sentence needs both <e1>…</e1> and <e2>…</e2> markers';
    if (close[e] <= open[e]) return `<${e}>…</${e}> is empty or closes before it opens`;
  }
  const span = (e: string) => ({ text: text.slice(open[e], close[e]), start: open[e], end: close[e] });
  return { text, head: span('e1'), tail: span('e2') };
}
