// Model shapes: the BERT presets and shape checks. Pure (no node: imports) so the browser planner
// bundles it; reading a config.json lives in model-files.ts. Impossible shapes are E_MODEL_SHAPE.
import { RefitError } from '../errors.ts';
import type { ModelDims } from './types.ts';

/** Default vocabulary (bert-base-uncased); Chinese BERT uses 21128. */
export const DEFAULT_VOCAB_SIZE = 30522;

function bert(layers: number, hidden: number, heads: number): ModelDims {
  return {
    vocab_size: DEFAULT_VOCAB_SIZE,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    intermediate_size: 4 * hidden,
    max_position_embeddings: 512,
    type_vocab_size: 2,
  };
}

/** The BERT family by size (Turc et al. 2019 small BERTs, and BERT base/large). */
export const PRESETS = Object.freeze({
  'bert-tiny': bert(2, 128, 2),
  'bert-mini': bert(4, 256, 4),
  'bert-small': bert(4, 512, 8),
  'bert-medium': bert(8, 512, 8),
  'bert-base': bert(12, 768, 12),
  'bert-large': bert(24, 1024, 16),
}) as Readonly<
  Record<'bert-tiny' | 'bert-mini' | 'bert-small' | 'bert-medium' | 'bert-base' | 'bert-large', ModelDims>
>;

/** The config.json fields a shape is made of. */
export const FIELDS: (keyof ModelDims)[] = [
  'vocab_size',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'intermediate_size',
  'max_position_embeddings',
  'type_vocab_size',
];

/**
 * The largest value of each shape field refit accepts: far beyond any BERT-family model (BERT-large: 24 layers,
 * hidden 1024), small enough that sizing a model never allocates much before the memory plan can refuse it.
 */
export const MAX_DIMS: Readonly<Record<keyof ModelDims, number>> = Object.freeze({
  vocab_size: 4_194_304,
  hidden_size: 65_536,
  num_hidden_layers: 1_024,
  num_attention_heads: 1_024,
  intermediate_size: 1_048_576,
  max_position_embeddings: 1_048_576,
  type_vocab_size: 1_024,
});

/**
 * Checks that a shape can exist (positive integers within MAX_DIMS, hidden divisible by heads); throws
 * E_MODEL_SHAPE.
 */
export function validateDims(dims: ModelDims, where: string): ModelDims {
  for (const f of FIELDS) {
    const v = dims[f];
    if (!Number.isInteger(v) || v <= 0) {
      throw new RefitError(
        'E_MODEL_SHAPE',
        `${where}: ${f} must be a positive integer, got ${JSON.stringify(v)}`,
      );
    }
    if (v > MAX_DIMS[f]) {
      throw new RefitError(
        'E_MODEL_SHAPE',
        `${where}: ${f} ${v} is larger than any model refit can train (at most ${MAX_DIMS[f]}); check the file`,
      );
    }
  }
  if (dims.hidden_size % dims.num_attention_heads !== 0) {
    throw new RefitError(
      'E_MODEL_SHAPE',
      `${where}: hidden_size ${dims.hidden_size} is not divisible by num_attention_heads ${dims.num_attention_heads}`,
    );
  }
  return dims;
}

/** Refuses a padded length above the model's position table (E_MODEL_SHAPE). */
export function checkSeqLen(dims: ModelDims, seq_len: number, where = '--seq-len'): void {
  if (!Number.isInteger(seq_len) || seq_len <= 0) {
    throw new RefitError(
      'E_MODEL_SHAPE',
      `${where}: sequence length must be a positive integer, got ${seq_len}`,
    );
  }
  if (seq_len > dims.max_position_embeddings) {
    throw new RefitError(
      'E_MODEL_SHAPE',
      `${where}: sequence length ${seq_len} is above the model's max_position_embeddings ` +
        `${dims.max_position_embeddings}; use --seq-len ${dims.max_position_embeddings} or less`,
    );
  }
}

/**
 * The dims with at most `layers` encoder layers (DeepKE's `num_hidden_layers` loads BERT cut short);
 * unchanged when unset.
 */
export function withLayers(dims: ModelDims, layers: number | null | undefined): ModelDims {
  return layers ? { ...dims, num_hidden_layers: Math.min(dims.num_hidden_layers, layers) } : dims;
}
