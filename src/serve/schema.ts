// JSON schemas of the HTTP API (validated by Fastify's ajv) and the one-line reason a bad request gets.
import { MAX_INPUT_CHARS_PER_WORD } from '../tokenize/index.ts';

/** The most items one POST /v1/predict may carry. */
export const MAX_ITEMS_PER_REQUEST = 256;
/** The window assumed when the served run has no model yet: BERT's 512 positions, the most any refit model reads. */
export const DEFAULT_WINDOW_TOKENS = 512;
/**
 * Characters one token of the window can stand for: WordPiece turns a word longer than 100 characters into one
 * [UNK], so a token covers at most 100 characters plus the space before it.
 */
export const MAX_CHARS_PER_TOKEN = MAX_INPUT_CHARS_PER_WORD + 1;

/**
 * The longest `text`, `head` or `tail` accepted (characters) for a model that reads `window_tokens` tokens: more
 * than the model can read even if every token were a 100-character word. For a 512-token model, 51,712.
 */
export function maxFieldChars(window_tokens: number): number {
  return window_tokens * MAX_CHARS_PER_TOKEN;
}

/** The default limit (a 512-token model), kept for callers that predate per-model limits. */
export const MAX_TEXT_CHARS = maxFieldChars(DEFAULT_WINDOW_TOKENS);

/** What head_offset/tail_offset count: code points, as in data files and `refit predict` (src/offsets.ts converts). */
export const OFFSET_DESCRIPTION =
  "where the entity starts in text, counted in Unicode code points (Python's str.index), not UTF-16 units: " +
  'an emoji or a CJK character from U+20000 up counts 1; optional, the first occurrence is used without it';

function itemSchema(max_chars: number) {
  return {
    type: 'object',
    required: ['text', 'head', 'tail'],
    properties: {
      text: { type: 'string', minLength: 1, maxLength: max_chars },
      head: { type: 'string', minLength: 1, maxLength: max_chars },
      tail: { type: 'string', minLength: 1, maxLength: max_chars },
      head_offset: { type: 'integer', minimum: 0, description: OFFSET_DESCRIPTION },
      tail_offset: { type: 'integer', minimum: 0, description: OFFSET_DESCRIPTION },
      // Entity types for deepke-lm models (DeepKE's predict.py asks for them); other heads ignore them.
      head_type: { type: 'string', maxLength: max_chars },
      tail_type: { type: 'string', maxLength: max_chars },
    },
  } as const;
}

/**
 * POST /v1/predict body for a model reading `window_tokens` tokens: one item or a list of 1..MAX_ITEMS_PER_REQUEST
 * items, every string bounded by maxFieldChars (if/then keeps ajv's errors to one branch).
 */
export function predictBodySchema(window_tokens = DEFAULT_WINDOW_TOKENS) {
  const item = itemSchema(maxFieldChars(window_tokens));
  return {
    if: { type: 'array' },
    then: { type: 'array', minItems: 1, maxItems: MAX_ITEMS_PER_REQUEST, items: item },
    else: item,
  } as const;
}

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

interface AjvLikeError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * Turns ajv errors into one line, e.g. `body[0].head: must be string` or `body: missing field "tail"`; a string over
 * its limit names the model's window when `window_tokens` is given.
 */
export function formatValidationErrors(
  errors: readonly AjvLikeError[],
  context: string,
  window_tokens?: number,
): string {
  const real = errors.filter((e) => e.keyword !== 'if');
  const e = real[0] ?? errors[0];
  if (!e) return `${context}: invalid`;
  const where =
    context +
    e.instancePath
      .split('/')
      .slice(1)
      .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
      .join('');
  if (e.keyword === 'required') return `${where}: missing field ${JSON.stringify(e.params.missingProperty)}`;
  if (e.keyword === 'maxLength' && window_tokens) {
    return (
      `${where}: longer than ${String(e.params.limit)} characters, more than the model reads ` +
      `(${window_tokens} tokens of at most ${MAX_INPUT_CHARS_PER_WORD} characters)`
    );
  }
  if (e.keyword === 'type' && e.instancePath === '' && context === 'body')
    return 'body: must be an object {text, head, tail} or a list of them';
  return `${where}: ${e.message ?? 'invalid'}`;
}
