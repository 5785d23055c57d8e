// seqeval's classification_report text (its StringReporter, default mode) from an entity metric block: what
// DeepKE's standard NER prints (digits=4). Pure: formats only.
import type { EntityMetricBlock } from './ner.ts';

/** Python's `'{:.Nf}'.format(x)`: correctly rounded, an exact tie rounded to even (JS toFixed rounds it up). */
export function pyFixed(x: number, digits: number): string {
  const exact = x.toFixed(Math.min(100, digits + 60));
  const cut = exact.indexOf('.') + digits + 1;
  const tie = exact[cut] === '5' && /^0*$/.test(exact.slice(cut + 1));
  if (!tie) return x.toFixed(digits);
  const kept = exact.slice(0, digits === 0 ? cut - 1 : cut);
  const last = Number(kept[kept.length - 1]);
  if (last % 2 === 0) return kept; // round half to even: keep the even digit
  return x.toFixed(digits); // an odd last digit rounds up, as toFixed does
}

/** The report seqeval's classification_report(y_true, y_pred, digits) prints for `block`. */
export function entityReport(block: EntityMetricBlock, digits = 4): string {
  const names = Object.keys(block.per_type);
  const width = Math.max(...names.map((n) => n.length), 'weighted avg'.length, digits);
  const row = (name: string, p: number, r: number, f: number, s: number) =>
    `${name.padStart(width)} ` +
    [p, r, f].map((v) => ` ${pyFixed(v, digits).padStart(9)}`).join('') +
    ` ${String(s).padStart(9)}`;
  const head =
    `${''.padStart(width)} ` +
    ['precision', 'recall', 'f1-score', 'support'].map((h) => ` ${h.padStart(9)}`).join('');
  const b = block;
  const lines = [
    ...names.map((n) => {
      const t = b.per_type[n];
      return row(n, t.precision, t.recall, t.f1, t.support);
    }),
    '',
    row('micro avg', b.micro_precision, b.micro_recall, b.micro_f1, b.support),
    row('macro avg', b.macro_precision, b.macro_recall, b.macro_f1, b.support),
    row('weighted avg', b.weighted_precision, b.weighted_recall, b.weighted_f1, b.support),
    '',
  ];
  return `${head}\n\n${lines.join('\n')}`;
}
