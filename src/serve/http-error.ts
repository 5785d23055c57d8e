// The error a route throws to answer with a given status and a one-line message (the error handler sends it as is).

/** A 4xx/5xx with a one-line message meant for the client (Fastify reads `statusCode`), and headers to send with it. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  constructor(statusCode: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.headers = headers;
  }
}
