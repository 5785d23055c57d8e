// The serve folder's surface: the HTTP server (prediction API, live run data, web pages).
export {
  startServer,
  buildApp,
  BODY_LIMIT_BYTES,
  REQUEST_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_CONNECTIONS,
  IDLE_SOCKET_TIMEOUT_MS,
} from './server.ts';
export type { ServerOptions } from './server.ts';
export { PredictBatcher, BATCH_WINDOW_MS, MAX_BATCH_ITEMS } from '../infer/index.ts';
export {
  entityProblem,
  DEFAULT_RESTART_POLICY,
  WORKER_TIMEOUT_MS,
  HEARTBEAT_MS,
  type RestartPolicy,
  type WorkerHealth,
} from './predictor.ts';
export type { PredictItem, PredictResult, Predictor } from './predictor.ts';
export { PREDICT_TIMEOUT_MS } from './routes-api.ts';
export { maxFieldChars, MAX_CHARS_PER_TOKEN, MAX_ITEMS_PER_REQUEST } from './schema.ts';
export { hidePaths, hidePathsDeep } from './redact.ts';
