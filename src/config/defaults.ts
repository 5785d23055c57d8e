// Default values of the run configuration, including the learning-rate defaults that depend on whether
// the model is a random-init preset or a pretrained folder. A table and one function; no I/O.
import { LEVERS } from '../memory/levers.ts';

/** Static defaults by dotted key (the learning rate is chosen by `defaultLearningRate`). */
export const DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  task: 're',
  'data.on_bad_row': 'error',
  'model.head': 'entity-start',
  // DeepKE's model/lm.yaml values, used by the deepke-lm head.
  'model.rnn.type': 'LSTM',
  'model.rnn.hidden_size': 100,
  'model.rnn.num_layers': 1,
  'model.rnn.bidirectional': true,
  'model.rnn.last_layer_hn': true,
  'model.rnn.dropout': 0.3,
  'train.epochs': 3,
  'train.batch_size': 32,
  'train.warmup_ratio': 0.1,
  'train.weight_decay': 0.01,
  'train.max_grad_norm': 1.0,
  'train.seed': 42,
  'train.early_stopping_patience': 2,
  // the memory.* and distributed.* defaults, from the lever table
  ...Object.fromEntries(LEVERS.filter((l) => l.default !== undefined).map((l) => [l.key, l.default])),
  'predict.na_threshold': 0,
  'predict.top_k': 3,
  'export.onnx': true,
  device: 'auto',
});

/**
 * Learning rates for presets trained from random initialisation. A random-init encoder needs a far
 * larger step than BERT fine-tuning (2e-5 leaves a 2-layer model near chance after a few epochs); the
 * rate falls with width/depth because post-LN encoders become unstable at high rates as they grow.
 * Always used with the linear warmup of `train.warmup_ratio` (0.1).
 */
export const PRESET_LEARNING_RATES: Readonly<Record<string, number>> = Object.freeze({
  'bert-tiny': 1e-3,
  'bert-mini': 1e-3,
  'bert-small': 5e-4,
  'bert-medium': 5e-4,
  'bert-base': 1e-4,
  'bert-large': 1e-4,
});

/** BERT fine-tuning rate (Devlin et al. range 2e-5..5e-5) for `model.pretrained` and when no model is set. */
export const PRETRAINED_LEARNING_RATE = 2e-5;

/** The default learning rate for a model given as a preset name or a pretrained folder. */
export function defaultLearningRate(model: { preset?: unknown; pretrained?: unknown }): number {
  if (typeof model.preset === 'string' && model.pretrained === undefined) {
    return Object.hasOwn(PRESET_LEARNING_RATES, model.preset)
      ? PRESET_LEARNING_RATES[model.preset]
      : PRETRAINED_LEARNING_RATE;
  }
  return PRETRAINED_LEARNING_RATE;
}
