// Between NER sentences and code-point entity spans ({text, type, start, end, score}, what predictions show):
// the spans of gold or predicted tags, and a sentence made from raw text for prediction input. Pure.
import { decodeSpans } from './spans.ts';
import type { EntitySpan, NerSentence, TokenSpan } from './types.ts';

/** What span conversion reads of a sentence: its tokens, its text and each token's code-point offset there. */
export type SentenceText = Pick<NerSentence, 'tokens' | 'text' | 'offsets'>;

/**
 * The entities of `spans` (default: the sentence's gold spans) as code-point spans of `sentence.text`;
 * `scores`, when given, is each span's score in the same order.
 */
export function entitySpans(
  sentence: SentenceText & { spans?: readonly TokenSpan[] },
  spans?: readonly TokenSpan[],
  scores?: number[],
): EntitySpan[] {
  const chars = [...sentence.text];
  return (spans ?? sentence.spans ?? []).map((s, k) => {
    const start = sentence.offsets[s.start];
    const last = s.end - 1;
    const end = sentence.offsets[last] + [...sentence.tokens[last]].length;
    const e: EntitySpan = { text: chars.slice(start, end).join(''), type: s.type, start, end };
    if (scores) e.score = scores[k];
    return e;
  });
}

/**
 * The predicted entities of a sentence from one predicted tag per token (decoded as seqeval does); an entity's
 * score is the mean of its tokens' `probs` (the probability of each predicted tag), when given.
 */
export function predictedEntities(opts: {
  sentence: SentenceText;
  tags: readonly string[];
  probs?: ArrayLike<number>;
}): EntitySpan[] {
  const { spans } = decodeSpans(opts.tags);
  const probs = opts.probs;
  const scores = probs
    ? spans.map((s) => {
        let sum = 0;
        for (let i = s.start; i < s.end; i++) sum += probs[i];
        return sum / (s.end - s.start);
      })
    : undefined;
  return entitySpans(opts.sentence, spans, scores);
}

/**
 * Raw text as a sentence to predict on: its characters (`char`, Chinese: every code point but white space) or its
 * white-space separated words (`word`); offsets are code points of `text`, which is kept as given.
 */
export function sentenceOfText(text: string, level: 'char' | 'word'): SentenceText {
  const tokens: string[] = [];
  const offsets: number[] = [];
  let at = 0;
  let word = '';
  let wordAt = 0;
  for (const ch of text) {
    const space = /\s/u.test(ch);
    if (level === 'char' && !space) {
      tokens.push(ch);
      offsets.push(at);
    } else if (level === 'word' && !space) {
      if (word === '') wordAt = at;
      word += ch;
    } else if (word !== '') {
      tokens.push(word);
      offsets.push(wordAt);
      word = '';
    }
    at++;
  }
  if (word !== '') {
    tokens.push(word);
    offsets.push(wordAt);
  }
  return { tokens, text, offsets };
}
