// Streams input rows through a Predictor a window at a time and writes one JSON line per row, in input order, as
// it goes: memory stays bounded by the window (rows, items and characters), whatever the file's size. Bad rows
// get an error line in place and are counted for the summary.
import type { InputRow } from './predict-input.ts';
import type { Prediction, Predictor } from './predict-item.ts';

/** Rows sent to the worker at a time. */
export const PREDICT_WINDOW = 256;
/** A window is also written out once it holds this many rows (bad ones need no worker) or this many characters. */
const MAX_WINDOW_ROWS = 16 * PREDICT_WINDOW;
const MAX_WINDOW_CHARS = 32 << 20;

/** Characters a row holds in memory (its strings), for bounding a window. */
function rowChars(r: InputRow): number {
  return 'item' in r
    ? r.item.text.length + r.item.head.length + r.item.tail.length
    : r.error.length + (r.head?.length ?? 0) + (r.tail?.length ?? 0);
}
/** Bad-row line numbers listed in the summary. */
const LISTED_LINES = 10;

/** What streaming saw: rows written, bad rows (error lines), the first few bad lines and the first reason. */
export interface PredictSummary {
  rows: number;
  bad: number;
  bad_lines: number[];
  first_bad?: { line: number; error: string };
}

/**
 * Predicts `rows`, calling `write` with each window's JSON lines (awaited: the caller's back-pressure); top_k
 * and na_threshold left out: the predictor's.
 */
export async function predictRows(opts: {
  rows: AsyncIterable<InputRow>;
  predictor: Pick<Predictor, 'predict'>;
  top_k?: number;
  na_threshold?: number;
  write: (text: string) => Promise<void> | void;
  window?: number;
}): Promise<PredictSummary> {
  const size = opts.window ?? PREDICT_WINDOW;
  const summary: PredictSummary = { rows: 0, bad: 0, bad_lines: [] };
  let window: InputRow[] = [];
  let items = 0;
  let chars = 0;
  const flush = async () => {
    if (!window.length) return;
    const rows = window;
    window = [];
    items = 0;
    chars = 0;
    const good = rows.flatMap((r) => ('item' in r ? [r.item] : []));
    const preds = good.length
      ? await opts.predictor.predict(good, { top_k: opts.top_k, na_threshold: opts.na_threshold })
      : [];
    let k = 0;
    let text = '';
    for (const r of rows) {
      const id = summary.rows++;
      // `line` says where the row came from (0: not from a file, e.g. --text, and left out)
      const where = r.line > 0 ? { line: r.line } : {};
      let out: Prediction & { line?: number };
      if ('item' in r) {
        const { id: _, ...p } = preds[k++];
        out = { id, ...where, ...p };
      } else {
        out = { id, ...where, head: r.head ?? '', tail: r.tail ?? '', error: r.error };
      }
      if (out.error !== undefined) {
        summary.bad++;
        if (summary.bad_lines.length < LISTED_LINES) summary.bad_lines.push(r.line);
        summary.first_bad ??= { line: r.line, error: out.error };
      }
      text += JSON.stringify(out) + '\n';
    }
    await opts.write(text);
  };
  for await (const row of opts.rows) {
    window.push(row);
    if ('item' in row) items++;
    chars += rowChars(row);
    if (items >= size || window.length >= MAX_WINDOW_ROWS || chars >= MAX_WINDOW_CHARS) await flush();
  }
  await flush();
  return summary;
}

/** `lines 4, 17, 90` (and `, …` past the listed ones). */
export function badLinesText(s: PredictSummary): string {
  return `line${s.bad === 1 ? '' : 's'} ${s.bad_lines.join(', ')}${s.bad > s.bad_lines.length ? ', …' : ''}`;
}
