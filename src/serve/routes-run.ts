// The live run API behind the /runs page: GET /v1/run?after=N returns the run's events from line N on,
// plus its plan, metrics and config, read fresh from the run folder (which may still be being written). Every
// absolute path in them (the run folder in run_start, data files in config.yaml) is shown as its last component.
import type { FastifyInstance } from 'fastify';
import { basename, join, resolve } from 'node:path';
import { EventsTail, currentEventsAfter, readRunSideFiles } from '../report/index.ts';
import { HttpError } from './http-error.ts';
import { hidePathsDeep } from './redact.ts';
import { RUN_QUERY_SCHEMA } from './schema.ts';

/**
 * Registers GET /v1/run. A run that has not created its folder yet (refit train --serve starts first) has no
 * events so far.
 */
export function registerRunRoutes(app: FastifyInstance, deps: { run_dir?: string }): void {
  const run_dir = deps.run_dir;
  const tail = run_dir ? new EventsTail(join(run_dir, 'events.jsonl')) : undefined;
  app.get('/v1/run', { schema: { querystring: RUN_QUERY_SCHEMA } }, async (req) => {
    if (!run_dir || !tail) throw new HttpError(404, 'no run folder: start the server with --run DIR');
    const after = (req.query as { after?: number }).after ?? 0;
    const events = tail.read();
    return hidePathsDeep({
      name: basename(resolve(run_dir)),
      events: currentEventsAfter(events, after),
      next: events.length,
      ...readRunSideFiles(run_dir),
    });
  });
}
