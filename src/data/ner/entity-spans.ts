// Token spans → code-point entity spans of the sentence text ({text, type, start, end}), what predictions show.
import type { EntitySpan, NerSentence, TokenSpan } from './types.ts';

/**
 * The entities of `spans` (default: the sentence's gold spans) as code-point spans of `sentence.text`;
 * `scores`, when given, is each span's score in the same order.
 */
export function entitySpans(
  sentence: NerSentence,
  spans?: readonly TokenSpan[],
  scores?: number[],
): EntitySpan[] {
  const chars = [...sentence.text];
  return (spans ?? sentence.spans).map((s, k) => {
    const start = sentence.offsets[s.start];
    const last = s.end - 1;
    const end = sentence.offsets[last] + [...sentence.tokens[last]].length;
    const e: EntitySpan = { text: chars.slice(start, end).join(''), type: s.type, start, end };
    if (scores) e.score = scores[k];
    return e;
  });
}
