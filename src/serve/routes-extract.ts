// POST /v1/extract ({"text": "…"} or {"texts": [...]}) → {text, entities, triples} per text, and GET /v1/extract
// (the runs behind it), when the server has an NER run besides its relation run (`refit serve --run NER_RUN
// --re-run RE_RUN`); with an NER run alone (`refit serve --run NER_RUN`), {text, entities} as `refit predict` writes
// them. The NER run's predictor is kept alive as the relation run's is and answers one call at a time; the relation
// pairs go through the server's one predict queue (the batcher), so /v1/predict and /v1/extract share the relation
// worker.
import type { FastifyInstance } from 'fastify';
import { basename, resolve } from 'node:path';
import type { RunLog } from '../log.ts';
import {
  extractTriples,
  openNerPredictor,
  runRelationTypes,
  typeConstraints,
  type Engine,
  type PredictBatcher,
} from '../infer/index.ts';
import type { EntitySpan } from '../data/index.ts';
import { KeptModel } from './kept-model.ts';
import type { LazyPredictor } from './predictor.ts';
import type { RestartPolicy } from './worker-policy.ts';
import { HttpError } from './http-error.ts';
import { MAX_ITEMS_PER_REQUEST, maxFieldChars } from './schema.ts';

type NerModel = Awaited<ReturnType<typeof openNerPredictor>>;

/**
 * The NER side of the server: its run's predictor kept alive as the relation model is (KeptModel: opened on first
 * use, its worker restarted with back-off when lost, its folder checked and reopened when replaced); calls go one
 * at a time.
 */
export class NerSide extends KeptModel<NerModel> {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly side: {
      run_dir: string;
      engine?: Engine;
      env: Record<string, string | undefined>;
      log: RunLog;
      num_threads?: number;
      restart?: Partial<RestartPolicy>;
      worker_timeout_ms?: number;
      heartbeat_ms?: number;
      notify?: (line: string) => void;
    },
  ) {
    super({ ...side, name: 'NER model', open: () => openNerPredictor(side) });
  }

  /** Entities of `texts`, after the calls queued before this one. */
  entities(texts: readonly string[]): Promise<EntitySpan[][]> {
    const run = this.chain.then(() => this.call((p) => p.entities(texts)));
    this.chain = run.catch(() => undefined);
    return run;
  }

  async engine(): Promise<Engine> {
    return (await this.get()).engine;
  }
}

/** A request body: one text or a list of them (each non-empty, within the relation model's input limit). */
function textsOf(body: unknown, max_chars: number): { texts: string[]; single: boolean } {
  const b = (body ?? {}) as { text?: unknown; texts?: unknown };
  const single = b.texts === undefined;
  if (single === (b.text === undefined))
    throw new HttpError(400, 'expected {"text": "…"} or {"texts": ["…", …]} (one of the two)');
  const texts = single ? [b.text] : b.texts;
  if (!Array.isArray(texts) || texts.length === 0 || texts.length > MAX_ITEMS_PER_REQUEST)
    throw new HttpError(400, `texts must be a list of 1 to ${MAX_ITEMS_PER_REQUEST} strings`);
  texts.forEach((t, i) => {
    const where = single ? 'text' : `texts[${i}]`;
    if (typeof t !== 'string' || !t.trim()) throw new HttpError(400, `${where} must be a non-empty string`);
    if (t.length > max_chars) throw new HttpError(400, `${where} is longer than ${max_chars} characters`);
  });
  return { texts: texts as string[], single };
}

/** Registers GET and POST /v1/extract on `app`. */
export function registerExtractRoutes(
  app: FastifyInstance,
  deps: {
    ner: NerSide;
    predictor: LazyPredictor;
    batcher: PredictBatcher;
    /** The relation run; without one, the route answers entities only. */
    re_run?: string;
    timeout_ms: number;
    window_tokens: number;
  },
): void {
  const re_run = deps.re_run;
  const types = re_run ? runRelationTypes(re_run).catch(() => undefined) : undefined;
  const names = {
    ner_run: basename(resolve(deps.ner.side.run_dir)),
    re_run: re_run ? basename(resolve(re_run)) : null,
  };
  app.get('/v1/extract', async () => ({ ...names, ner_engine: await deps.ner.engine() }));
  app.post('/v1/extract', async (req) => {
    const { texts, single } = textsOf(req.body, maxFieldChars(deps.window_tokens));
    let work: Promise<unknown[]>;
    if (!re_run) {
      work = deps.ner.entities(texts).then((all) => texts.map((text, i) => ({ text, entities: all[i] })));
    } else {
      const re = await deps.predictor.get(); // 503 before queueing when there is no relation model
      work = extractTriples(
        {
          entities: (t) => deps.ner.entities(t),
          predict: (items, o) => deps.batcher.submit(items, o),
          na_label: re.na_label,
          ...typeConstraints(await types, re.na_label),
        },
        texts,
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new HttpError(503, `extraction did not finish within ${deps.timeout_ms} ms; try again`)),
        deps.timeout_ms,
      );
    });
    const out = await Promise.race([work, late]).finally(() => clearTimeout(timer));
    return single ? out[0] : out;
  });
}
