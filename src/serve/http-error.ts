// The error a route throws to answer with a given status and a one-line message (the error handler sends it as is).

/** A 4xx/5xx with a one-line message meant for the client (Fastify reads `statusCode`), and headers to send with it. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  /**
   * True when the run log should not get a line per request (refusals while the worker restarts: its state
   * changes are logged).
   */
  readonly quiet: boolean;
  constructor(
    statusCode: number,
    message: string,
    headers: Record<string, string> = {},
    opts: { quiet?: boolean } = {},
  ) {
    super(message);
    this.quiet = opts.quiet ?? false;
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.headers = headers;
  }
}
