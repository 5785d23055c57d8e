// The server's view of a model's items and shapes: the entity check every request gets before it reaches an engine,
// and the names and shapes /v1/model shows (no paths).
import { basename, resolve } from 'node:path';
import { itemExample, type PredictItem, type Prediction } from '../infer/index.ts';

/** One prediction result (the shape `refit predict` writes). */
export type PredictResult = Prediction;

/**
 * Why `item` cannot be predicted (an entity not in the text, an offset not pointing at it), or null when it can;
 * the same check and wording as `refit predict` (itemExample in src/run).
 */
export function entityProblem(item: PredictItem): string | null {
  const r = itemExample(item, 0);
  return typeof r === 'string' ? r : null;
}

/** The model's names and shapes as /v1/model shows them (no paths). */
export interface ModelInfo {
  relations: string[];
  na_label: string | null;
  max_seq_len: number;
  model: Record<string, unknown>;
}

/** The model's config without its folder: dims, head, casing, labels (and the folder's name only). */
export function shapeOnly(model: Record<string, unknown>): Record<string, unknown> {
  const { dir, ...rest } = model;
  return typeof dir === 'string' ? { name: basename(resolve(dir, '..')), ...rest } : rest;
}
