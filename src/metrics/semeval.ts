// The official SemEval-2010 Task 8 score, replicated from the task's Perl scorer v1.2: the macro F1 of
// the "(9+1)-way evaluation with directionality taken into account", Other excluded. Pure: no I/O.

/** `Type(e1,e2)` → `Type`; the scorer strips a trailing `(e1,e2)`/`(e2,e1)` to get the relation type. */
const DIRECTION_SUFFIX = /\(e[12],e[12]\)$/;

/** Relation type of a label with its direction removed. */
function relationType(label: string): string {
  return label.replace(DIRECTION_SUFFIX, '');
}

/** Adds one to `map[key]`. */
function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/**
 * Official SemEval-2010 Task 8 score as a fraction in [0, 1] (the Perl scorer prints it ×100 as a
 * percentage). Per gold relation type T (direction removed): correct = predictions with exactly the
 * gold label (type and direction); P = correct / (predictions of type T + predictions of the right
 * type but wrong direction for gold T); R = correct / gold of type T; F1 = 2PR/(P+R). The score is
 * the mean F1 over the relation types present in the gold labels, `other` excluded; predicted types
 * absent from the gold labels count as wrong predictions but add no term (as in the scorer).
 */
export function semevalOfficialF1(gold: readonly string[], pred: readonly string[], other = 'Other'): number {
  const correct = new Map<string, number>(); // confMatrix10wayWithDir{T}{T}
  const proposed = new Map<string, number>(); // allLabels10wayWithDirProposed{T}
  const wrongDir = new Map<string, number>(); // confMatrix10wayWithDir{WRONG_DIR}{T}
  const answer = new Map<string, number>(); // allLabels10wayAnswer{T}
  for (let i = 0; i < gold.length; i++) {
    const goldType = relationType(gold[i]);
    const predType = relationType(pred[i]);
    bump(answer, goldType);
    if (pred[i] === gold[i]) {
      bump(correct, goldType);
      bump(proposed, predType);
    } else if (predType === goldType) {
      bump(wrongDir, goldType); // right relation, wrong direction: neither correct nor "proposed T"
    } else {
      bump(proposed, predType);
    }
  }
  // The scorer walks the gold types in sorted order; keeping that order keeps the float sum identical.
  const types = [...answer.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).filter((t) => t !== other);
  if (types.length === 0) return 0; // the Perl script would divide by zero here
  let macro = 0;
  for (const t of types) {
    const c = correct.get(t) ?? 0;
    const p = proposed.get(t) ?? 0;
    // Percentages, exactly as the script computes them, so rounding matches its printed figure.
    const precision = p === 0 ? 0 : (100 * c) / (p + (wrongDir.get(t) ?? 0));
    const recall = (100 * c) / (answer.get(t) ?? 1);
    macro += precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  }
  return macro / types.length / 100;
}
