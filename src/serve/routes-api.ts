// The prediction API: POST /v1/predict, GET /v1/model, GET /v1/health. Bodies show names, relations and shapes,
// never the machine's paths.
// Entities not in the text: a single-item request gets 400; in a list, that item gets an `error` field (as
// `refit predict` writes it) and the others are still predicted.
import type { FastifyInstance } from 'fastify';
import { basename, resolve } from 'node:path';
import type { PredictBatcher } from '../infer/index.ts';
import { HttpError } from './http-error.ts';
import type { KeptEngine, KeptModel } from './kept-model.ts';
import { entityProblem, type LazyPredictor, type PredictItem, type PredictResult } from './predictor.ts';
import { PREDICT_QUERY_SCHEMA, predictBodySchema } from './schema.ts';

/** Health statuses from best to worst. */
const RANK = { ok: 0, degraded: 1, down: 2 } as const;

/** How long one prediction request may wait for the worker before it gets 503 (ms). */
export const PREDICT_TIMEOUT_MS = 30_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new HttpError(503, `prediction did not finish within ${ms} ms; try again`, { 'retry-after': '5' }),
        ),
      ms,
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Predicts `items`, answering entity problems per item without sending those to the worker. */
async function predictItems(opts: {
  items: PredictItem[];
  top_k?: number;
  batcher: PredictBatcher;
  timeout_ms: number;
}): Promise<PredictResult[]> {
  const problems = opts.items.map(entityProblem);
  const good = opts.items.filter((_, i) => problems[i] === null);
  const results = good.length
    ? await withTimeout(opts.batcher.submit(good, { top_k: opts.top_k }), opts.timeout_ms)
    : [];
  let g = 0;
  return opts.items.map((item, id) => {
    const problem = problems[id];
    return problem === null
      ? { ...results[g++], id }
      : { id, head: item.head, tail: item.tail, error: problem };
  });
}

/** Registers the prediction routes on `app`. */
export function registerApiRoutes(
  app: FastifyInstance,
  deps: {
    predictor: LazyPredictor;
    /** The NER run behind POST /v1/extract, when there is one: its health joins the relation model's. */
    ner?: KeptModel<KeptEngine> & { side: { run_dir: string } };
    batcher: PredictBatcher;
    run_dir?: string;
    timeout_ms?: number;
    started: number;
    window_tokens?: number;
  },
): void {
  const run = deps.run_dir ? basename(resolve(deps.run_dir)) : null;
  app.post(
    '/v1/predict',
    { schema: { body: predictBodySchema(deps.window_tokens), querystring: PREDICT_QUERY_SCHEMA } },
    async (req) => {
      const body = req.body as PredictItem | PredictItem[];
      const top_k = (req.query as { top_k?: number }).top_k;
      const single = !Array.isArray(body);
      const items = single ? [body] : body;
      if (single) {
        const problem = entityProblem(body);
        if (problem) throw new HttpError(400, problem);
      }
      await deps.predictor.get(); // 503 before queueing when there is no model
      const results = await predictItems({
        items,
        top_k,
        batcher: deps.batcher,
        timeout_ms: deps.timeout_ms ?? PREDICT_TIMEOUT_MS,
      });
      return single ? results[0] : results;
    },
  );

  app.get('/v1/model', async () => ({ ...(await deps.predictor.modelInfo()), run }));

  // ok: serving (or no model yet); degraded: the worker was lost and is being restarted (503 + Retry-After meanwhile);
  // down: it failed policy.max_restarts times in a row and is not restarted again (answered with status 503). With an
  // NER run, `ner` is its model's own health and the status is the worse of the two (the reason the worse one's).
  app.get('/v1/health', async (_req, reply) => {
    const h = deps.predictor.health();
    const ner = deps.ner && { ...deps.ner.health(), model_loaded: deps.ner.state === 'ready' };
    const worst = ner && RANK[ner.status] > RANK[h.status] ? ner : h;
    if (worst.status === 'down') void reply.status(503);
    return {
      status: worst.status,
      reason: worst.reason,
      model_loaded: deps.predictor.state === 'ready',
      model_reloads: deps.predictor.reloads,
      run,
      worker: h.worker,
      uptime_s: Math.round((Date.now() - deps.started) / 1000),
      waiting_requests: deps.batcher.waiting,
      worker_calls: deps.batcher.stats,
      ...(ner && deps.ner
        ? {
            ner: {
              status: ner.status,
              reason: ner.reason,
              model_loaded: ner.model_loaded,
              model_reloads: deps.ner.reloads,
              run: basename(resolve(deps.ner.side.run_dir)),
              worker: ner.worker,
            },
          }
        : {}),
    };
  });
}
