// The encoding surface: entity markers, one-example encoding with entity-aware truncation, the encoded dataset file.
export { defaultMarkers, entityTypes, markerStrings, addMarkersToVocab, resolveMarkerIds, FALLBACK_MARKERS, type MarkerScheme, type MarkerIds } from './markers.ts';
export { encodeExample, tokensWithEdges, TRUNCATION_SEPARATOR, type EncodedExample } from './encode.ts';
export { truncationPlan, MIN_BODY_BUDGET, type MarkerPositions } from './truncate.ts';
export { writeEncodedDataset, readEncodedDataset, datasetContentHash, DATASET_MAGIC, DATASET_EXT, ENCODER_VERSION,
  type EncodedHeader, type EncodedDatasetView, type WrittenDataset } from './dataset-file.ts';
