// The tokenizer surface: BERT vocab.txt + WordPiece equal to Hugging Face's BertTokenizer, with char spans.
export { Vocab, SPECIAL_TOKENS } from './vocab.ts';
export {
  WordPieceTokenizer,
  MAX_INPUT_CHARS_PER_WORD,
  type Token,
  type TokenArrays,
  type TokenizerOptions,
} from './wordpiece.ts';
