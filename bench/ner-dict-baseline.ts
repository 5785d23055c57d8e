// Baselines for the NER bench that learn nothing beyond the training file: everything `O` (the majority tag) and a
// dictionary of the training entities (each surface form seen as an entity, tagged with the type it had most often;
// matched longest first, left to right, without overlap, case-folded). Scored by the same seqeval-mode entity metrics
// as refit train's test split, so a model's F1 above the dictionary's is what it learned beyond memorising names.
import type { NerSentence } from '../src/data/index.ts';
import { entityMetrics, type EntityMetricBlock } from '../src/metrics/ner.ts';

/** A baseline's entity metrics and token accuracy on the test sentences. */
export interface BaselineScore {
  entity: EntityMetricBlock;
  accuracy: number;
  /** Distinct surface forms in the dictionary (0 for the all-`O` baseline). */
  entries: number;
}

const SEP = '\u0001';
const fold = (tokens: readonly string[]) => tokens.map((t) => t.toLowerCase()).join(SEP);

/** The dictionary: folded surface form → the type it had most often in training (ties: the first seen). */
export function entityDictionary(train: readonly NerSentence[]): {
  types: Map<string, string>;
  longest: number;
} {
  const counts = new Map<string, Map<string, number>>();
  let longest = 0;
  for (const s of train) {
    for (const span of s.spans) {
      const key = fold(s.tokens.slice(span.start, span.end));
      const byType = counts.get(key) ?? new Map<string, number>();
      byType.set(span.type, (byType.get(span.type) ?? 0) + 1);
      counts.set(key, byType);
      longest = Math.max(longest, span.end - span.start);
    }
  }
  const types = new Map<string, string>();
  for (const [key, byType] of counts) {
    let best = '';
    let n = 0;
    for (const [type, c] of byType) if (c > n) [best, n] = [type, c];
    types.set(key, best);
  }
  return { types, longest };
}

/** BIO tags of one sentence from the dictionary: at each token the longest entry that starts there, else `O`. */
export function dictionaryTags(
  tokens: readonly string[],
  dict: { types: Map<string, string>; longest: number },
): string[] {
  const tags: string[] = [];
  let i = 0;
  while (i < tokens.length) {
    let hit = 0;
    let type = '';
    for (let n = Math.min(dict.longest, tokens.length - i); n > 0 && !hit; n--) {
      const t = dict.types.get(fold(tokens.slice(i, i + n)));
      if (t !== undefined) [hit, type] = [n, t];
    }
    if (!hit) {
      tags.push('O');
      i++;
      continue;
    }
    tags.push(`B-${type}`, ...Array.from({ length: hit - 1 }, () => `I-${type}`));
    i += hit;
  }
  return tags;
}

const tokenAccuracy = (gold: readonly string[][], pred: readonly string[][]) => {
  let right = 0;
  let all = 0;
  gold.forEach((g, i) => g.forEach((t, j) => ((all += 1), (right += t === pred[i][j] ? 1 : 0))));
  return all ? right / all : 0;
};

/** The all-`O` and the dictionary baselines of one dataset, scored on its test sentences. */
export function baselines(
  train: readonly NerSentence[],
  test: readonly NerSentence[],
): { majority: BaselineScore; dictionary: BaselineScore } {
  const gold = test.map((s) => s.tags);
  const allO = test.map((s) => s.tags.map(() => 'O'));
  const dict = entityDictionary(train);
  const tagged = test.map((s) => dictionaryTags(s.tokens, dict));
  return {
    majority: {
      entity: entityMetrics({ gold, pred: allO }),
      accuracy: tokenAccuracy(gold, allO),
      entries: 0,
    },
    dictionary: {
      entity: entityMetrics({ gold, pred: tagged }),
      accuracy: tokenAccuracy(gold, tagged),
      entries: dict.types.size,
    },
  };
}
