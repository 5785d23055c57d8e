// The live run API behind the /runs page: GET /v1/run?after=N returns the run's events from line N on,
// plus its plan, metrics and config, read fresh from the run folder (which may still be being written).
import type { FastifyInstance } from 'fastify';
import { readRunParts } from '../report/index.ts';
import { HttpError } from './http-error.ts';
import { RUN_QUERY_SCHEMA } from './schema.ts';

/** Registers GET /v1/run. */
export function registerRunRoutes(app: FastifyInstance, deps: { run_dir?: string }): void {
  app.get('/v1/run', { schema: { querystring: RUN_QUERY_SCHEMA } }, async (req) => {
    if (!deps.run_dir) throw new HttpError(404, 'no run folder: start the server with --run DIR');
    const after = (req.query as { after?: number }).after ?? 0;
    let parts;
    try {
      parts = readRunParts(deps.run_dir, { live: true });
    } catch (e) {
      // A run that has not created its folder or events.jsonl yet (refit train --serve starts first): nothing so far.
      if (e instanceof Error && 'code' in e && (e.code === 'E_RUN_DIR' || e.code === 'E_RUN_EVENTS' || e.code === 'E_RUN_FILE')) {
        return { name: deps.run_dir, events: [], next: 0, plan: null, metrics: null, config_yaml: '' };
      }
      throw e;
    }
    return { name: parts.name, events: parts.events.slice(after), next: parts.events.length, plan: parts.plan,
      metrics: parts.metrics, config_yaml: parts.config_yaml };
  });
}
