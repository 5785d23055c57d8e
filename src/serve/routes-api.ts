// The prediction API: POST /v1/predict, GET /v1/model, GET /v1/health.
// Entities not in the text: a single-item request gets 400; in a list, that item gets an `error` field (as
// `refit predict` writes it) and the others are still predicted.
import type { FastifyInstance } from 'fastify';
import type { PredictBatcher } from './batcher.ts';
import { HttpError } from './http-error.ts';
import { entityProblem, type LazyPredictor, type PredictItem, type PredictResult } from './predictor.ts';
import { PREDICT_BODY_SCHEMA, PREDICT_QUERY_SCHEMA } from './schema.ts';

/** How long one prediction request may wait for the worker before it gets 503 (ms). */
export const PREDICT_TIMEOUT_MS = 30_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(503, `prediction did not finish within ${ms} ms; try again`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Predicts `items`, answering entity problems per item without sending those to the worker. */
async function predictItems(opts: { items: PredictItem[]; top_k?: number; batcher: PredictBatcher; timeout_ms: number }): Promise<PredictResult[]> {
  const problems = opts.items.map(entityProblem);
  const good = opts.items.filter((_, i) => problems[i] === null);
  const results = good.length ? await withTimeout(opts.batcher.submit(good, opts.top_k), opts.timeout_ms) : [];
  let g = 0;
  return opts.items.map((item, id) => {
    const problem = problems[id];
    return problem === null ? { ...results[g++], id } : { id, head: item.head, tail: item.tail, error: problem };
  });
}

/** Registers the prediction routes on `app`. */
export function registerApiRoutes(app: FastifyInstance, deps: { predictor: LazyPredictor; batcher: PredictBatcher; run_dir?: string;
  timeout_ms?: number; started: number }): void {
  app.post('/v1/predict', { schema: { body: PREDICT_BODY_SCHEMA, querystring: PREDICT_QUERY_SCHEMA } }, async (req) => {
    const body = req.body as PredictItem | PredictItem[];
    const top_k = (req.query as { top_k?: number }).top_k;
    const single = !Array.isArray(body);
    const items = single ? [body] : body;
    if (single) {
      const problem = entityProblem(body);
      if (problem) throw new HttpError(400, problem);
    }
    await deps.predictor.get(); // 503 before queueing when there is no model
    const results = await predictItems({ items, top_k, batcher: deps.batcher, timeout_ms: deps.timeout_ms ?? PREDICT_TIMEOUT_MS });
    return single ? results[0] : results;
  });

  app.get('/v1/model', async () => {
    const p = await deps.predictor.get();
    return { relations: p.relations, na_label: p.na_label, max_seq_len: p.max_seq_len, model: p.model, run_dir: deps.run_dir ?? null };
  });

  app.get('/v1/health', async () => ({
    status: 'ok', model_loaded: deps.predictor.loaded, model_reloads: deps.predictor.reloads, run_dir: deps.run_dir ?? null,
    uptime_s: Math.round((Date.now() - deps.started) / 1000), waiting_requests: deps.batcher.waiting, worker_calls: deps.batcher.stats,
  }));
}
