// Shapes of well-known Hugging Face BERT checkpoints by model id, so `lm_file: bert-base-chinese` (a
// DeepKE conf) can be planned without the folder. Facts from each model's config.json; a table, no I/O.
import type { ModelDims } from './types.ts';
import { own } from '../own.ts';

function bert(layers: number, hidden: number, heads: number, vocab_size: number): ModelDims {
  return {
    vocab_size,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    intermediate_size: 4 * hidden,
    max_position_embeddings: 512,
    type_vocab_size: 2,
  };
}

const EN = 30522;
const EN_CASED = 28996;
const ZH = 21128;

/** Model id (without the `google-bert/` organisation some ids now carry) → shape. */
export const KNOWN_MODELS: Readonly<Record<string, ModelDims>> = Object.freeze({
  'bert-base-uncased': bert(12, 768, 12, EN),
  'bert-base-cased': bert(12, 768, 12, EN_CASED),
  'bert-large-uncased': bert(24, 1024, 16, EN),
  'bert-large-cased': bert(24, 1024, 16, EN_CASED),
  'bert-base-chinese': bert(12, 768, 12, ZH),
  'bert-base-multilingual-cased': bert(12, 768, 12, 119547),
  'bert-base-multilingual-uncased': bert(12, 768, 12, 105879),
  'hfl/chinese-bert-wwm': bert(12, 768, 12, ZH),
  'hfl/chinese-bert-wwm-ext': bert(12, 768, 12, ZH),
  'hfl/chinese-roberta-wwm-ext': bert(12, 768, 12, ZH),
  'hfl/chinese-roberta-wwm-ext-large': bert(24, 1024, 16, ZH),
  'hfl/chinese-macbert-base': bert(12, 768, 12, ZH),
  'hfl/chinese-macbert-large': bert(24, 1024, 16, ZH),
  'hfl/rbt3': bert(3, 768, 12, ZH),
  'hfl/rbt4': bert(4, 768, 12, ZH),
  'hfl/rbt6': bert(6, 768, 12, ZH),
  'hfl/rbtl3': bert(3, 1024, 16, ZH),
  'prajjwal1/bert-tiny': bert(2, 128, 2, EN),
  'prajjwal1/bert-mini': bert(4, 256, 4, EN),
  'prajjwal1/bert-small': bert(4, 512, 8, EN),
  'prajjwal1/bert-medium': bert(8, 512, 8, EN),
});

/** Families named by their shape: Google's miniature BERTs and UER's Chinese RoBERTa miniatures (64-dim heads). */
const SHAPED: Array<{ re: RegExp; dims: (m: RegExpMatchArray) => ModelDims }> = [
  { re: /^google\/bert_uncased_L-(\d+)_H-(\d+)_A-(\d+)$/, dims: (m) => bert(+m[1], +m[2], +m[3], EN) },
  {
    re: /^uer\/chinese_roberta_L-(\d+)_H-(\d+)$/,
    dims: (m) => bert(+m[1], +m[2], Math.max(1, +m[2] / 64), ZH),
  },
];

/**
 * The shape of a Hugging Face model id, or undefined. `spec` may be a path that ends in the id
 * (a config resolved it against a folder), so the last two and then the last path segment are tried.
 */
export function knownModelDims(spec: string): { id: string; dims: ModelDims } | undefined {
  const parts = spec.replace(/\\/g, '/').split('/').filter(Boolean);
  for (const id of [parts.slice(-2).join('/'), parts.at(-1) ?? '']) {
    const key = id.replace(/^google-bert\//, '');
    const known = own(KNOWN_MODELS, key);
    if (known) return { id: key, dims: { ...known } };
    for (const s of SHAPED) {
      const m = key.match(s.re);
      if (m) return { id: key, dims: s.dims(m) };
    }
  }
  return undefined;
}
