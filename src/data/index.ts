// The data surface: readers, readDataset, relation lists, data folders and dataset statistics; NER files (ner/).
// Other folders import data code only through this file.
export type { Example, Mention, RelationSet } from './types.ts';
export {
  READERS,
  readText,
  parseJson,
  extensionOf,
  type Reader,
  type ReadOptions,
  type SniffResult,
} from './readers/index.ts';
export {
  readDataset,
  pickReader,
  MAX_BAD_ROWS,
  type Dataset,
  type ReadDatasetOptions,
  type OnBadRow,
} from './dataset.ts';
export {
  readRelations,
  readRelationTypes,
  detectNaLabel,
  relationSetFromExamples,
  NA_LABELS,
} from './relations.ts';
export { resolveDataFolder, isFolder, isRelationFileName, type DataFolder } from './folder.ts';
export {
  datasetStats,
  summarize,
  inputKey,
  TRUNCATION_LENGTHS,
  SPECIAL_TOKENS_PER_EXAMPLE,
  type FileStats,
  type LengthSummary,
  type TokenSummary,
} from './stats.ts';
export {
  NER_READERS,
  pickNerReader,
  readNerDataset,
  parseTag,
  schemeOf,
  nerLabelNames,
  isTagShape,
  decodeSpans,
  seqevalChunks,
  chunkTagOf,
  endOfChunk,
  startOfChunk,
  entitySpans,
  predictedEntities,
  sentenceOfText,
  nerStats,
  nerInputKey,
  relationRowsToCharBio,
  MAX_SENTENCE_TOKENS,
  type NerReader,
  type NerDataset,
  type NerFile,
  type NerSentence,
  type TokenSpan,
  type EntitySpan,
  type TagScheme,
  type ParsedTag,
  type Chunk,
  type NerFileStats,
  type SentenceText,
} from './ner/index.ts';
