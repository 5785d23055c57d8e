// The tokenizer side of a model: what encodes text for it, in training (run/prepare.ts) and when a saved model is
// read back (model-folder.ts). A type only: building one from a config is run/prepare.ts:textSide.
import type { Vocab, WordPieceTokenizer } from '../tokenize/index.ts';
import type { DeepkeLmInput, MarkerScheme } from '../encode/index.ts';

/**
 * The tokenizer side of a model: vocabulary file, casing and entity markers; `deepke_lm` when the model is the
 * deepke-lm head, which reads DeepKE's LM text (type words, `[SEP] head [SEP] tail`) instead of markers.
 */
export interface TextSide {
  vocab_path: string;
  vocab: Vocab;
  tokenizer: WordPieceTokenizer;
  lowercase: boolean;
  markers: MarkerScheme;
  deepke_lm?: DeepkeLmInput;
}
