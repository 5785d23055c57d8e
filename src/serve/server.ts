// startServer: the Fastify app (API, live run data, built web pages) with validation, size limit, timeouts, a cap on
// open connections and an error handler that answers every failure as JSON `{error}` in one line; stacks go to the
// run log only, and every value echoed there is cut short.
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import fastifyStatic from '@fastify/static';
import { Ajv } from 'ajv';
import type { AddressInfo } from 'node:net';
import { defaultThreads } from '../worker/index.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRefitError } from '../errors.ts';
import { clip, type RunLog } from '../log.ts';
import { PredictBatcher, type Engine } from '../infer/index.ts';
import { LazyPredictor, type RestartPolicy } from './predictor.ts';
import { PREDICT_TIMEOUT_MS, registerApiRoutes } from './routes-api.ts';
import { NerSide, registerExtractRoutes } from './routes-extract.ts';
import { HttpError } from './http-error.ts';
import { registerRunRoutes } from './routes-run.ts';
import { hidePaths } from './redact.ts';
import { DEFAULT_WINDOW_TOKENS, formatValidationErrors } from './schema.ts';
import { findWebRoot } from './web-root.ts';

/** Largest request body accepted (bytes); larger bodies get 413. */
export const BODY_LIMIT_BYTES = 1024 * 1024;
/**
 * A client must send its whole request, headers and body, within this time (ms), or it gets 408 and is
 * disconnected.
 */
export const REQUEST_TIMEOUT_MS = 10_000;
/** An idle keep-alive connection is closed after this time (ms). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** The most connections open at once; more are closed as soon as they connect. */
export const MAX_CONNECTIONS = 256;
/** A connection with no traffic either way for this long (ms) is closed, whatever it is waiting for. */
export const IDLE_SOCKET_TIMEOUT_MS = 120_000;
/** Longest request URL or message written to the run log per request (characters). */
export const LOGGED_VALUE_CHARS = 200;

/** Options of startServer; `run_dir` may be a run still being trained (its model is opened when it appears). */
export interface ServerOptions {
  run_dir?: string;
  /**
   * An NER run besides the relation run `run_dir`: POST /v1/extract turns raw text into triples with both (without
   * `run_dir`, into the NER run's entities).
   */
  ner_run_dir?: string;
  host: string;
  port: number;
  log: RunLog;
  env: Record<string, string | undefined>;
  /**
   * Per-request limits (defaults: REQUEST_TIMEOUT_MS, PREDICT_TIMEOUT_MS, BODY_LIMIT_BYTES);
   * request_timeout_ms covers headers and body.
   */
  request_timeout_ms?: number;
  predict_timeout_ms?: number;
  body_limit_bytes?: number;
  /** Connection limits (defaults: KEEP_ALIVE_TIMEOUT_MS, MAX_CONNECTIONS). */
  keep_alive_timeout_ms?: number;
  max_connections?: number;
  /** How a lost model worker is restarted (default DEFAULT_RESTART_POLICY) and when a silent one counts as hung. */
  restart?: Partial<RestartPolicy>;
  worker_timeout_ms?: number;
  /** How often an idle worker is pinged, and how long it has to answer (default HEARTBEAT_MS). */
  heartbeat_ms?: number;
  /** Called with each change of the worker's health (lost, restarting, back, down), e.g. to tell the terminal. */
  notify?: (line: string) => void;
  /** CPU threads of the model (default: serveThreads()). */
  num_threads?: number;
  /**
   * Prediction engine: onnx (onnxruntime-node in this process) or torch (the worker); default: onnx when the
   * model has model.onnx.
   */
  engine?: Engine;
  /** Folder of the built web pages; found next to the code when absent. */
  web_dir?: string | null;
}

/**
 * Model threads when serving: the default rule (defaultThreads) with one core kept for the HTTP process;
 * single-sentence batches gain nothing past a few threads (bench/results/serve-load.md).
 */
export function serveThreads(): number {
  return defaultThreads({ reserve: 1 });
}

function oneLine(s: string): string {
  return s.split('\n')[0].slice(0, 500);
}

function errorHandler(log: RunLog, window_tokens: number) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    let status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    let message: string;
    if (err.validation) {
      status = 400;
      message = formatValidationErrors(
        err.validation as never,
        err.validationContext ?? 'body',
        window_tokens,
      );
    } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      message = `request body is larger than the ${reply.server.initialConfig.bodyLimit} byte limit`;
    } else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      message = `content-type must be application/json (got ${req.headers['content-type'] ?? 'none'})`;
    } else if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      message = `body is not valid JSON: ${oneLine(err.message)}`;
    } else if (err instanceof HttpError) {
      message = err.message;
      for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v);
    } else if (isRefitError(err)) {
      status = 503; // the model could not be opened: the server's problem, not the request's
      message = hidePaths(err.message);
    } else if (status >= 500) {
      message = 'internal error (details in the server log)';
    } else {
      message = oneLine(err.message);
    }
    const expected = isRefitError(err) || err instanceof HttpError || status < 500;
    // Refusals while the worker restarts or is down are not logged one by one: its state changes are, once each.
    if (err instanceof HttpError && err.quiet) {
      return reply
        .status(status)
        .type('application/json')
        .send({ error: oneLine(message) });
    }
    const detail = expected ? clip(oneLine(message), LOGGED_VALUE_CHARS) : (err.stack ?? err.message);
    log.write(`serve ${req.method} ${clip(req.url, LOGGED_VALUE_CHARS)} -> ${status}: ${detail}`);
    return reply
      .status(status)
      .type('application/json')
      .send({ error: oneLine(message) });
  };
}

async function registerPages(app: FastifyInstance, web_dir: string | null): Promise<void> {
  const pages: Record<string, string> = { '/': 'index.html', '/runs': 'runs.html', '/plan': 'plan.html' };
  if (!web_dir) {
    for (const route of Object.keys(pages)) {
      app.get(route, async (_req, reply) =>
        reply.status(404).send({ error: 'web pages are not built: run npm run build' }),
      );
    }
    return;
  }
  await app.register(fastifyStatic, { root: web_dir, prefix: '/', index: false, wildcard: false });
  app.get('/assets/*', (req, reply) => reply.sendFile(`assets/${(req.params as { '*': string })['*']}`));
  for (const [route, file] of Object.entries(pages)) app.get(route, (_req, reply) => reply.sendFile(file));
}

/** The window of the served model (tokens), from its refit.json; BERT's 512 while the run has no model yet. */
function modelWindow(run_dir: string | undefined): number {
  if (!run_dir) return DEFAULT_WINDOW_TOKENS;
  try {
    const n = (
      JSON.parse(readFileSync(join(run_dir, 'model', 'refit.json'), 'utf8')) as { max_seq_len?: unknown }
    ).max_seq_len;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : DEFAULT_WINDOW_TOKENS;
  } catch {
    return DEFAULT_WINDOW_TOKENS;
  }
}

function requestTimeoutOf(opts: ServerOptions): number {
  return opts.request_timeout_ms ?? REQUEST_TIMEOUT_MS;
}

/** Builds the app without listening (the CLI and tests call startServer, which listens). */
export async function buildApp(
  opts: ServerOptions,
): Promise<{ app: FastifyInstance; predictor: LazyPredictor; ner: NerSide | undefined }> {
  const requestTimeout = opts.request_timeout_ms ?? REQUEST_TIMEOUT_MS;
  const keepAliveTimeout = opts.keep_alive_timeout_ms ?? KEEP_ALIVE_TIMEOUT_MS;
  const app = Fastify({
    logger: false,
    bodyLimit: opts.body_limit_bytes ?? BODY_LIMIT_BYTES,
    // A `__proto__` (or constructor.prototype) key is valid JSON: it is dropped from the parsed body, never applied,
    // instead of the body being refused as "not valid JSON".
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    requestTimeout,
    keepAliveTimeout,
    connectionTimeout: Math.max(IDLE_SOCKET_TIMEOUT_MS, (opts.predict_timeout_ms ?? 0) + requestTimeout),
    // Node checks the timeouts on this interval (30 s by default), which would let slow clients linger. Its
    // headersTimeout must not exceed requestTimeout: when it does (60 s by default), Node swaps the two, and a client
    // that sent its headers and part of a body was kept for 60 s instead of requestTimeout.
    http: {
      connectionsCheckingInterval: Math.min(500, Math.max(50, Math.floor(requestTimeout / 4))),
      requestTimeout,
      headersTimeout: requestTimeout,
      keepAliveTimeout,
    } as never,
  });
  app.server.headersTimeout = requestTimeout;
  app.server.maxConnections = opts.max_connections ?? MAX_CONNECTIONS;
  // Bodies: wrong types are errors, never silently converted; extra fields are ignored but kept. Query strings are
  // text by nature, so there numbers are coerced ("?after=3").
  const strict = new Ajv({ coerceTypes: false, removeAdditional: false, allErrors: false });
  const coercing = new Ajv({ coerceTypes: true, removeAdditional: false, allErrors: false });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema),
  );
  // Only JSON bodies: anything else is 415 rather than a confusing "must be an object".
  app.removeContentTypeParser('text/plain');
  const predictor = new LazyPredictor({
    run_dir: opts.run_dir,
    no_run: opts.ner_run_dir
      ? 'this server has an NER run and no relation run: the extract endpoint finds its entities (start with ' +
        '--re-run RE_RUN for relations)'
      : undefined,
    env: opts.env,
    log: opts.log,
    num_threads: opts.num_threads ?? serveThreads(),
    engine: opts.engine,
    restart: opts.restart,
    worker_timeout_ms: opts.worker_timeout_ms,
    heartbeat_ms: opts.heartbeat_ms,
    notify: opts.notify,
  });
  const batcher = new PredictBatcher({ predict: (items, o) => predictor.predict(items, o) });
  const window_tokens = modelWindow(opts.run_dir ?? opts.ner_run_dir);
  app.setErrorHandler(errorHandler(opts.log, window_tokens));
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );
  // The NER run of POST /v1/extract, kept alive as the relation run's model is (its health joins /v1/health).
  const ner = opts.ner_run_dir
    ? new NerSide({
        run_dir: opts.ner_run_dir,
        engine: opts.engine,
        env: opts.env,
        log: opts.log,
        num_threads: opts.num_threads ?? serveThreads(),
        restart: opts.restart,
        worker_timeout_ms: opts.worker_timeout_ms,
        heartbeat_ms: opts.heartbeat_ms,
        notify: opts.notify,
      })
    : undefined;
  registerApiRoutes(app, {
    predictor,
    ner,
    batcher,
    run_dir: opts.run_dir,
    timeout_ms: opts.predict_timeout_ms,
    started: Date.now(),
    window_tokens,
  });
  if (ner) {
    registerExtractRoutes(app, {
      ner,
      predictor,
      batcher,
      re_run: opts.run_dir,
      timeout_ms: opts.predict_timeout_ms ?? PREDICT_TIMEOUT_MS,
      window_tokens,
    });
    app.addHook('onClose', () => ner.close());
  }
  registerRunRoutes(app, { run_dir: opts.run_dir ?? opts.ner_run_dir });
  await registerPages(app, opts.web_dir === undefined ? findWebRoot() : opts.web_dir);
  return { app, predictor, ner };
}

/** Starts the HTTP server on host:port (port 0 = any free port); `close()` stops it and the model's worker. */
export async function startServer(opts: ServerOptions): Promise<{ url: string; close(): Promise<void> }> {
  const { app, predictor, ner } = await buildApp(opts);
  // A trained model is loaded before listening: the first request is then as fast as the rest. A model that cannot
  // load (no torch, damaged files) is retried with back-off and ends `down` (one line on stderr and in the log);
  // the server listens meanwhile, so /v1/health tells what is wrong instead of the process exiting.
  // The NER run's model (raw text → entities) is loaded beside it, the same way.
  await Promise.all([
    opts.run_dir && existsSync(join(opts.run_dir, 'model', 'refit.json')) ? predictor.warmUp() : undefined,
    ner?.warmUp(),
  ]);
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (e) {
    // e.g. EADDRINUSE: stop the model's worker too, or its process would keep this one alive
    await app.close().catch(() => undefined);
    await predictor.close();
    throw e;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  opts.log.write(
    `serve: listening on http://${host}:${address.port} (run ${opts.run_dir ?? opts.ner_run_dir ?? 'none'}; ` +
      `request timeout ${requestTimeoutOf(opts)} ms, ` +
      `keep-alive ${opts.keep_alive_timeout_ms ?? KEEP_ALIVE_TIMEOUT_MS} ms, at most ` +
      `${opts.max_connections ?? MAX_CONNECTIONS} connections)`,
  );
  return {
    url: `http://${host}:${address.port}`,
    close: async () => {
      await app.close();
      await predictor.close();
    },
  };
}
