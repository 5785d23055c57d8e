// THUNLP Chinese NRE TSV reader (FinRE, SanWen): `head<TAB>tail<TAB>relation<TAB>sentence`, blank lines
// between instances are skipped. There are no offsets: each entity takes its first occurrence.
import type { Example } from '../types.ts';
import { locateMention } from './locate.ts';
import type { ReadOptions, Reader, SniffResult } from './reader.ts';
import { extensionOf, readText, splitLines } from './text-file.ts';

const FIELDS = 4;

/** Reads THUNLP `train.txt`-style files. */
export const thunlpReader: Reader = Object.freeze({
  name: 'thunlp',
  sniff(path: string, head: string): SniffResult {
    const first = head.split('\n').find((l) => l.trim() !== '') ?? '';
    const fields = first.split('\t').length;
    if (fields === FIELDS && !first.includes('<e1>')) return { score: 2 };
    if (['txt', 'tsv'].includes(extensionOf(path)) && fields > 1 && !head.includes('<e1>'))
      return { score: 1 };
    return { score: 0, why: 'first line is not head<TAB>tail<TAB>relation<TAB>sentence' };
  },
  read: readThunlp,
});

async function* readThunlp(path: string, opts: ReadOptions): AsyncIterable<Example> {
  const lines = splitLines(opts.text ?? (await readText(path)));
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (raw.trim() === '') continue;
    const fields = raw.split('\t');
    if (fields.length !== FIELDS) {
      opts.bad(
        i + 1,
        `expected ${FIELDS} TAB-separated fields (head, tail, relation, sentence), found ${fields.length}`,
      );
      continue;
    }
    const [headText, tailText, relation, text] = fields;
    const example = build({ headText, tailText, relation, text, bad: (what) => opts.bad(i + 1, what) });
    if (example) yield { ...example, file: path, line: i + 1 };
  }
}

function build(o: {
  headText: string;
  tailText: string;
  relation: string;
  text: string;
  bad: (what: string) => void;
}): Omit<Example, 'file' | 'line'> | null {
  for (const [field, value] of [
    ['head', o.headText],
    ['relation', o.relation],
    ['tail', o.tailText],
    ['sentence', o.text],
  ]) {
    if (value === '') {
      o.bad(`${field} is empty`);
      return null;
    }
  }
  const head = locateMention({ text: o.text, entity: o.headText });
  if (!head) {
    o.bad(`head '${o.headText}' does not occur in the sentence`);
    return null;
  }
  const tail = locateMention({ text: o.text, entity: o.tailText });
  if (!tail) {
    o.bad(`tail '${o.tailText}' does not occur in the sentence`);
    return null;
  }
  return {
    text: o.text,
    head: { text: o.headText, start: head.start, end: head.end },
    tail: { text: o.tailText, start: tail.start, end: tail.end },
    relation: o.relation,
  };
}
