// Tags → entities exactly as seqeval's default mode reads them (seqeval 1.2.2, the version DeepKE pins:
// seqeval/metrics/sequence_labeling.py, get_entities, end_of_chunk and start_of_chunk — the conlleval rules).
// A tag's chunk tag is its first character and its type what follows the first '-' after it ('_' when empty);
// a sequence is read with one 'O' appended, so a chunk open at the end of a sentence ends there. M- (BMES) is in
// neither rule table: it continues a chunk of its type and only a type change ends it, as in seqeval. Pure.
import type { TokenSpan } from './types.ts';

/** seqeval's split of a tag into its chunk tag and type: `chunk[0]`, `chunk[1:].split('-', 1)[-1] or '_'`. */
export function chunkTagOf(tag: string): { tag: string; type: string } {
  const rest = tag.slice(1);
  const dash = rest.indexOf('-');
  return { tag: tag.slice(0, 1), type: (dash < 0 ? rest : rest.slice(dash + 1)) || '_' };
}

/** seqeval's end_of_chunk: did a chunk end between the previous token and this one? */
export function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (prevTag === 'E' || prevTag === 'S') return true;
  if ((prevTag === 'B' || prevTag === 'I') && (tag === 'B' || tag === 'S' || tag === 'O')) return true;
  return prevTag !== 'O' && prevTag !== '.' && prevType !== type;
}

/** seqeval's start_of_chunk: did a chunk start at this token? */
export function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (tag === 'B' || tag === 'S') return true;
  if ((prevTag === 'E' || prevTag === 'S' || prevTag === 'O') && (tag === 'E' || tag === 'I')) return true;
  return tag !== 'O' && tag !== '.' && prevType !== type;
}

/** One chunk of seqeval's get_entities: type, first index, last index (inclusive), as seqeval returns it. */
export type Chunk = [type: string, start: number, last: number];

/**
 * seqeval's get_entities over one flat sequence (the caller joins sentences with 'O' as seqeval does); `starts`
 * (optional) receives the chunk tag each chunk started on, for counting irregular starts.
 */
export function seqevalChunks(seq: readonly string[], starts?: string[]): Chunk[] {
  let prevTag = 'O';
  let prevType = '';
  let begin = 0;
  let beginTag = 'O';
  const chunks: Chunk[] = [];
  for (let i = 0; i <= seq.length; i++) {
    const { tag, type } = i < seq.length ? chunkTagOf(seq[i]) : { tag: 'O', type: '_' };
    if (endOfChunk(prevTag, tag, prevType, type)) {
      chunks.push([prevType, begin, i - 1]);
      starts?.push(beginTag);
    }
    if (startOfChunk(prevTag, tag, prevType, type)) {
      begin = i;
      beginTag = tag;
    }
    prevTag = tag;
    prevType = type;
  }
  return chunks;
}

/**
 * The entities of one sentence's tags as token spans [start, end), and how many start on a tag other than B-/S-
 * (seqeval reads `O I-X` as an entity; a checker counts it).
 */
export function decodeSpans(tags: readonly string[]): { spans: TokenSpan[]; irregular: number } {
  const starts: string[] = [];
  const spans = seqevalChunks(tags, starts).map(([type, start, last]) => ({ type, start, end: last + 1 }));
  return { spans, irregular: starts.filter((t) => t !== 'B' && t !== 'S').length };
}
