// The serve folder's surface: the HTTP server (prediction API, live run data, web pages).
export { startServer, buildApp, BODY_LIMIT_BYTES, REQUEST_TIMEOUT_MS } from './server.ts';
export type { ServerOptions } from './server.ts';
export { PredictBatcher, BATCH_WINDOW_MS, MAX_BATCH_ITEMS } from './batcher.ts';
export { entityProblem } from './predictor.ts';
export type { PredictItem, PredictResult, Predictor } from './predictor.ts';
export { PREDICT_TIMEOUT_MS } from './routes-api.ts';
