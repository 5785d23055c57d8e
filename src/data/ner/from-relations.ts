// The entity spans a relation data set annotates, as NER data: each sentence's heads and tails typed by the
// relation list's head_type/tail_type of the row's relation (rows of the NA relation name no types), written as
// DeepKE's `char TAG` BIO lines (one code point a line, white space left out, a blank line between sentences).
// What a pipeline's NER run can learn from the RE data alone (bench/extract-pipeline.ts).
import type { Example } from '../types.ts';

/** relation → the types of its head and tail (relation.csv's columns). */
type Types = Record<string, { head_type: string; tail_type: string }>;

/**
 * DeepKE `char TAG` text of `examples` (rows of one sentence merged, in first-seen order): a span overlapping one
 * already tagged in its sentence is left out.
 */
export function relationRowsToCharBio(
  examples: readonly Example[],
  types: Types,
  na_label: string | null,
): string {
  const sentences = new Map<string, Array<{ start: number; end: number; type: string }>>();
  for (const ex of examples) {
    const spans = sentences.get(ex.text) ?? [];
    sentences.set(ex.text, spans);
    const t = ex.relation !== undefined && ex.relation !== na_label ? types[ex.relation] : undefined;
    if (!t) continue;
    spans.push({ ...ex.head, type: t.head_type }, { ...ex.tail, type: t.tail_type });
  }
  const blocks: string[] = [];
  for (const [text, spans] of sentences) {
    // tags by UTF-16 index, then read per code point
    const tags = new Array<string>(text.length).fill('O');
    for (const s of spans) {
      if (tags.slice(s.start, s.end).some((x) => x !== 'O')) continue;
      for (let i = s.start; i < s.end; i++) tags[i] = `${i === s.start ? 'B' : 'I'}-${s.type}`;
    }
    const lines: string[] = [];
    for (let i = 0; i < text.length;) {
      const ch = String.fromCodePoint(text.codePointAt(i)!);
      if (ch.trim()) lines.push(`${ch} ${tags[i]}`);
      i += ch.length;
    }
    if (lines.length) blocks.push(lines.join('\n'));
  }
  return blocks.join('\n\n') + '\n';
}
