// JSON schemas of the HTTP API (validated by Fastify's ajv) and the one-line reason a bad request gets.

/** The most items one POST /v1/predict may carry. */
export const MAX_ITEMS_PER_REQUEST = 256;
/** The longest text accepted per item (characters); longer texts are truncated by max_seq_len anyway. */
export const MAX_TEXT_CHARS = 100_000;

const ITEM_SCHEMA = {
  type: 'object',
  required: ['text', 'head', 'tail'],
  properties: {
    text: { type: 'string', minLength: 1, maxLength: MAX_TEXT_CHARS },
    head: { type: 'string', minLength: 1 },
    tail: { type: 'string', minLength: 1 },
    head_offset: { type: 'integer', minimum: 0 },
    tail_offset: { type: 'integer', minimum: 0 },
  },
} as const;

/** POST /v1/predict body: one item or a list of 1..MAX_ITEMS_PER_REQUEST items (if/then keeps ajv's errors to one branch). */
export const PREDICT_BODY_SCHEMA = {
  if: { type: 'array' },
  then: { type: 'array', minItems: 1, maxItems: MAX_ITEMS_PER_REQUEST, items: ITEM_SCHEMA },
  else: ITEM_SCHEMA,
} as const;

/** POST /v1/predict query: optional top_k. */
export const PREDICT_QUERY_SCHEMA = {
  type: 'object',
  properties: { top_k: { type: 'integer', minimum: 1, maximum: 100 } },
} as const;

/** GET /v1/run query: events after line `after`. */
export const RUN_QUERY_SCHEMA = {
  type: 'object',
  properties: { after: { type: 'integer', minimum: 0 } },
} as const;

interface AjvLikeError { keyword: string; instancePath: string; message?: string; params: Record<string, unknown> }

/** Turns ajv errors into one line, e.g. `body[0].head: must be string` or `body: missing field "tail"`. */
export function formatValidationErrors(errors: readonly AjvLikeError[], context: string): string {
  const real = errors.filter((e) => e.keyword !== 'if');
  const e = real[0] ?? errors[0];
  if (!e) return `${context}: invalid`;
  const where = context + e.instancePath.split('/').slice(1).map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('');
  if (e.keyword === 'required') return `${where}: missing field ${JSON.stringify(e.params.missingProperty)}`;
  if (e.keyword === 'type' && e.instancePath === '' && context === 'body') return 'body: must be an object {text, head, tail} or a list of them';
  return `${where}: ${e.message ?? 'invalid'}`;
}
