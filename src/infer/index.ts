// The inference surface: prediction on the torch worker or onnxruntime, eval of a run, ONNX export and int8
// quantisation. Commands and the server import from here; the model folder and the worker session are session/,
// training is run/ (never imported here).
export { evaluateRun } from './run-eval.ts';
export { openPredictor } from './predictor.ts';
export { openModelWorker, workerLiveness, IN_PROCESS, type Liveness } from './model-worker.ts';
export { itemExample, locate, type Predictor, type PredictItem, type Prediction } from './predict-item.ts';
export {
  openPredictInput,
  itemRow,
  MAX_LINE_BYTES,
  type InputRow,
  type PredictInput,
} from './predict-input.ts';
export { predictRows, badLinesText, PREDICT_WINDOW, type PredictSummary } from './predict-stream.ts';
export { PredictBatcher, BATCH_WINDOW_MS, MAX_BATCH_ITEMS, type PredictOptions } from './predict-batcher.ts';
export { exportRun, onnxCheckSummary, type ExportResult } from './export-run.ts';
export { openRunPredictor, chooseEngine, parseEngine, ENGINES, type Engine } from './engine.ts';
export { predictDefaults, type PredictDefaults } from './predict-defaults.ts';
export { openOnnxPredictor, ONNX_BATCH_SIZE } from './onnx-predictor.ts';
export { quantizeAndMeasure, INT8_MAX_F1_DROP, type Int8Record } from './onnx-quantize.ts';
export { quantizeOnnxInt8 } from './onnx-int8.ts';
export {
  exportOnnx,
  onnxLogits,
  maxAbsDiff,
  ONNX_FP32_TOLERANCE,
  ONNX_CHECK_EXAMPLES,
  type OnnxRecord,
} from './onnx-export.ts';
export {
  openOnnxSession,
  loadOrt,
  ortVersion,
  ONNX_FILE,
  ONNX_INT8_FILE,
  DEFAULT_OPSET,
  type OnnxSession,
} from './onnx-runtime.ts';
export { NerPredictor, nerRows, tagOfLogits, type TokenRows, type TokenTagger } from './ner-predictor.ts';
export { openNerPredictor } from './ner-engines.ts';
export { evaluateNerRun } from './ner-eval-run.ts';
export {
  extractTriples,
  candidatePairs,
  allowedTypePairs,
  checkExtractRuns,
  openExtractor,
  runRelationTypes,
  typeConstraints,
  typedRelation,
  type Extraction,
  type Extractor,
  type ExtractParts,
  type RelationTypes,
  type Triple,
} from './extract.ts';
