// The encoding surface: entity markers, one-example encoding with entity-aware truncation, the encoded dataset file.
// Other folders import encoding only through this file.
//
// How an example is encoded (what a user's model sees):
// - ids = [CLS] body [SEP]; body = the WordPiece tokens of the sentence with four markers inserted at token
//   boundaries: head_start … head_end around the head, tail_start … tail_end around the tail.
// - Default markers are the vocab's reserved [unused1] [unused2] [unused3] [unused4] (no new embeddings). A vocab
//   without them gets the strings [E1] [/E1] [E2] [/E2] appended (addMarkersToVocab; the model needs that many more
//   embedding rows). Typed markers (data with entity types): the k-th type in sorted order opens a head with
//   [unused{5+2k}] and a tail with [unused{6+2k}] (else <S:TYPE> / <O:TYPE> strings); end markers stay untyped.
// - An entity edge inside a word splits the word there (the pieces are tokenized on their own).
// - Nested/overlapping/reversed spans: markers nest (inner closes first, outer opens first, head before tail on a
//   tie); head_pos / tail_pos are the indices of the two start markers in ids.
// - Truncation to max_seq_len (counting [CLS]/[SEP]): a window around both entities, centred; when they do not fit
//   together, tokens are kept by priority (entity content, then nearest a marker) and each dropped stretch between
//   kept runs is replaced by one [SEP] (TRUNCATION_SEPARATOR). Markers are never dropped.
// - The .refit-ds file follows docs/encoded-dataset.md, plus a header key `truncated` (count of truncated examples).
// - NER (ner.ts, ner-dataset.ts): each word (a character for Chinese) tokenized on its own; its first sub-token
//   carries the tag's label id, the other sub-tokens, [CLS] and [SEP] IGNORE_LABEL (-100); a word the tokenizer
//   drops is [UNK]; truncation keeps the first max_seq_len - 2 sub-tokens. Its file has `task: "ner"`.
// - The deepke-lm head reads DeepKE's LM text instead (deepke-lm.ts): mentions replaced by type words, then
//   `[SEP] head [SEP] tail`; no markers. encodeForHead picks the scheme.
export {
  defaultMarkers,
  entityTypes,
  markerStrings,
  addMarkersToVocab,
  resolveMarkerIds,
  FALLBACK_MARKERS,
  type MarkerScheme,
  type MarkerIds,
} from './markers.ts';
export { encodeExample, tokensWithEdges, TRUNCATION_SEPARATOR, type EncodedExample } from './encode.ts';
export { truncationPlan, MIN_BODY_BUDGET, type MarkerPositions } from './truncate.ts';
export {
  writeEncodedDataset,
  readEncodedDataset,
  datasetContentHash,
  encodeForHead,
  DATASET_MAGIC,
  DATASET_EXT,
  ENCODER_VERSION,
  type EncodedHeader,
  type EncodedDatasetView,
  type WrittenDataset,
  type EncodeOptions,
} from './dataset-file.ts';
export { encodeDeepkeLm, deepkeLmTypes, type DeepkeLmInput, type EntityTypePair } from './deepke-lm.ts';
export {
  encodeNerSentence,
  wordPieceIds,
  nerSubtokenCount,
  wordPredictions,
  IGNORE_LABEL,
  type EncodedNerExample,
} from './ner.ts';
export {
  writeNerDataset,
  readNerEncoded,
  nerContentHash,
  NER_ENCODER_VERSION,
  type NerEncodedHeader,
  type NerInput,
  type NerDatasetView,
  type WrittenNerDataset,
} from './ner-dataset.ts';
