// Prediction input files: JSON lines {text, head, tail, head_offset?, tail_offset?}, or any labelled data file
// (its bad rows become `error` rows at their position; the others are predicted).
import { readFileSync } from 'node:fs';
import { DataError } from '../errors.ts';
import { readDataset } from '../data/index.ts';
import type { PredictItem, Prediction } from './predictor.ts';

function isItemLine(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { text?: unknown }).text === 'string' && typeof (v as { head?: unknown }).head === 'string';
}

/** Reads prediction input; returns the items to predict and error rows by input position (ids are input positions). */
export async function readPredictInput(opts: { path: string; format?: string }): Promise<{ items: PredictItem[]; errors: Map<number, Prediction> }> {
  let text: string;
  try { text = readFileSync(opts.path, 'utf8'); } catch { throw new DataError('E_DATA_FILE', { path: opts.path }, 'cannot read the file'); }
  const first = text.split('\n').find((l) => l.trim());
  let firstJson: unknown;
  try { firstJson = first ? JSON.parse(first) : undefined; } catch { firstJson = undefined; }
  if (!opts.format && isItemLine(firstJson)) return { items: readItemLines(opts.path, text), errors: new Map() };
  return readLabelled(opts);
}

function readItemLines(path: string, text: string): PredictItem[] {
  const items: PredictItem[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try { v = JSON.parse(line); } catch { throw new DataError('E_DATA_JSON', { path, line: i + 1 }, 'not valid JSON'); }
    const o = v as Record<string, unknown>;
    for (const f of ['text', 'head', 'tail']) if (typeof o?.[f] !== 'string') throw new DataError('E_DATA_FIELD', { path, line: i + 1 }, `field '${f}' must be a string`);
    for (const f of ['head_offset', 'tail_offset']) {
      if (o[f] !== undefined && !(Number.isInteger(o[f]) && (o[f] as number) >= 0)) throw new DataError('E_DATA_FIELD', { path, line: i + 1 }, `field '${f}' must be a non-negative integer`);
    }
    items.push({ text: o.text as string, head: o.head as string, tail: o.tail as string, head_offset: o.head_offset as number | undefined, tail_offset: o.tail_offset as number | undefined });
  });
  return items;
}

async function readLabelled(opts: { path: string; format?: string }): Promise<{ items: PredictItem[]; errors: Map<number, Prediction> }> {
  const bad: Array<{ line: number; what: string }> = [];
  const ds = await readDataset({ path: opts.path, format: opts.format, on_bad_row: 'warn', warn: (l) => {
    const m = /:(\d+): (.*)$/.exec(l);
    bad.push({ line: m ? Number(m[1]) : 0, what: m ? m[2] : l });
  } });
  const rows = [...ds.examples.map((e) => ({ line: e.line, ex: e })), ...bad.map((b) => ({ line: b.line, what: b.what }))].sort((a, b) => a.line - b.line);
  const items: PredictItem[] = [];
  const errors = new Map<number, Prediction>();
  rows.forEach((r, id) => {
    if ('ex' in r) items.push({ text: r.ex.text, head: r.ex.head.text, tail: r.ex.tail.text, head_offset: r.ex.head.start, tail_offset: r.ex.tail.start });
    else errors.set(id, { id, head: '', tail: '', error: `line ${r.line}: ${r.what}` });
  });
  return { items, errors };
}
