// A DeepKE LM checkpoint's tensor names and shapes (from the worker's inspect_weights) checked against the conf,
// so that the mismatches DeepKE users hit (num_hidden_layers #529, num_relations #449, another model #116) are one
// line naming the conf key. Pure: no I/O. Any shape left unchecked here is still checked by the worker's load.
import { RefitError } from '../errors.ts';
import type { ModelDims } from '../memory/index.ts';
import type { RnnSpec } from '../worker/protocol.ts';

/** Tensor shapes by name, as inspect_weights reports them. */
export type TensorShapes = Readonly<Record<string, { shape: number[] }>>;

/** torch's gate count per RNN type: weight_ih_l0 has gates × hidden rows. */
const GATES: Readonly<Record<RnnSpec['type'], number>> = Object.freeze({ LSTM: 4, GRU: 3, RNN: 1 });

/** What the checkpoint's RNN is, read from its weights. */
interface RnnFound {
  type?: RnnSpec['type'];
  per_direction: number;
  directions: number;
  layers: number;
  input: number;
  /** The shape of bilstm.rnn.weight_hh_l0, undefined when the checkpoint has none. */
  hh?: number[];
}

const fail = (path: string, what: string) => new RefitError('E_DEEPKE_CHECKPOINT', `${path}: ${what}`);

/** Keys without nn.DataParallel's `module.` prefix (DeepKE's use_multi_gpu saves them so). */
export function stripModulePrefix(tensors: TensorShapes): Record<string, { shape: number[] }> {
  return Object.fromEntries(
    Object.entries(tensors).map(([k, v]) => [k.startsWith('module.') ? k.slice('module.'.length) : k, v]),
  );
}

/**
 * Throws E_DEEPKE_CHECKPOINT naming the conf key when the checkpoint at `path` is not DeepKE's LM model with these
 * BERT dims (lm_file + num_hidden_layers), this RNN (type_rnn, hidden_size, num_layers, bidirectional) and
 * `num_labels` relations (relation.csv / num_relations).
 */
export function checkDeepkeCheckpoint(opts: {
  path: string;
  tensors: TensorShapes;
  dims: ModelDims;
  rnn: RnnSpec;
  num_labels: number;
  lm_file: string;
  relations_file: string;
}): void {
  const { path, dims, rnn } = opts;
  const t = stripModulePrefix(opts.tensors);
  const names = Object.keys(t);
  const prefixes = [...new Set(names.map((n) => n.split('.')[0]))].sort().join('., ');
  if (!names.some((n) => n.startsWith('bert.')) || !t['fc.weight'] || !t['bilstm.rnn.weight_ih_l0']) {
    throw fail(
      path,
      `not a checkpoint of DeepKE's LM model (model_name: lm): it has no ` +
        `${!names.some((n) => n.startsWith('bert.')) ? 'bert.*' : !t['fc.weight'] ? 'fc.weight' : 'bilstm.rnn.*'} ` +
        `weights (its keys start with ${prefixes}.); import-deepke reads LM checkpoints only`,
    );
  }
  const layers =
    1 +
    Math.max(
      -1,
      ...names
        .map((n) => /^bert\.encoder\.layer\.(\d+)\./.exec(n))
        .filter((m) => m)
        .map((m) => Number(m![1])),
    );
  if (layers !== dims.num_hidden_layers) {
    throw fail(
      path,
      `the checkpoint has ${layers} BERT layer${layers === 1 ? '' : 's'} but num_hidden_layers is ` +
        `${dims.num_hidden_layers}: set num_hidden_layers=${layers}, the value it was trained with`,
    );
  }
  const words = t['bert.embeddings.word_embeddings.weight']?.shape;
  if (words && (words[0] !== dims.vocab_size || words[1] !== dims.hidden_size)) {
    throw fail(
      path,
      `bert.embeddings.word_embeddings.weight is [${words.join(', ')}] but lm_file ${opts.lm_file} has ` +
        `vocab_size ${dims.vocab_size} × hidden_size ${dims.hidden_size}: set lm_file to the model the ` +
        `checkpoint was trained from`,
    );
  }
  const labels = t['fc.weight'].shape[0];
  if (labels !== opts.num_labels) {
    throw fail(
      path,
      `fc.weight has ${labels} outputs (trained with num_relations ${labels}) but ${opts.relations_file} ` +
        `lists ${opts.num_labels} relations: use the relation.csv the checkpoint was trained with ` +
        `(num_relations=${labels})`,
    );
  }
  checkRnn(path, rnnFound(t), rnn, dims.hidden_size);
  const fcIn = t['fc.weight'].shape[1];
  if (fcIn !== rnn.hidden_size)
    throw fail(
      path,
      `fc.weight reads ${fcIn} features but hidden_size (model.rnn.hidden_size) is ${rnn.hidden_size}: set ` +
        `hidden_size=${fcIn}`,
    );
}

function rnnFound(t: Record<string, { shape: number[] }>): RnnFound {
  const hhShape = t['bilstm.rnn.weight_hh_l0']?.shape;
  const hh = hhShape ?? [0, 0];
  const per_direction = hh[1];
  const gates = per_direction ? hh[0] / per_direction : 0;
  const type = (Object.keys(GATES) as Array<RnnSpec['type']>).find((k) => GATES[k] === gates);
  const rnnKeys = Object.keys(t).filter((n) => n.startsWith('bilstm.rnn.'));
  const layers =
    1 +
    Math.max(
      0,
      ...rnnKeys
        .map((n) => /_l(\d+)/.exec(n))
        .filter((m) => m)
        .map((m) => Number(m![1])),
    );
  return {
    type,
    per_direction,
    directions: rnnKeys.some((n) => n.endsWith('_reverse')) ? 2 : 1,
    layers,
    input: t['bilstm.rnn.weight_ih_l0'].shape[1],
    hh: hhShape,
  };
}

function checkRnn(path: string, found: RnnFound, rnn: RnnSpec, bertHidden: number): void {
  const key = (deepke: string, refit: string) => `${deepke} (model.rnn.${refit})`;
  if (!found.type) {
    // No gate count fits the recurrent weight: say what the weight is, not "an unknown type".
    const h = found.hh ? found.hh[1] : 0;
    throw fail(
      path,
      found.hh
        ? `bilstm.rnn.weight_hh_l0 has shape [${found.hh.join(', ')}], which fits no RNN of hidden size ${h} ` +
            `(an LSTM's is [${4 * h}, ${h}], a GRU's [${3 * h}, ${h}]): the checkpoint's RNN weights do not ` +
            `fit together`
        : `it has bilstm.rnn.* weights but no bilstm.rnn.weight_hh_l0: not a whole ${rnn.type} of DeepKE's LM model`,
    );
  }
  if (found.type !== rnn.type) {
    const article = { LSTM: 'an', GRU: 'a', RNN: 'an' };
    throw fail(
      path,
      `the checkpoint's RNN is ${found.type ? `${article[found.type]} ${found.type}` : 'of an unknown type'} ` +
        `but ${key('type_rnn', 'type')} is ${rnn.type}${found.type ? `: set type_rnn=${found.type}` : ''}`,
    );
  }
  const bidirectional = found.directions === 2;
  if (bidirectional !== rnn.bidirectional)
    throw fail(
      path,
      `the checkpoint's RNN is ${bidirectional ? '' : 'not '}bidirectional but ` +
        `${key('bidirectional', 'bidirectional')} is ${rnn.bidirectional}: set bidirectional=${bidirectional}`,
    );
  if (found.layers !== rnn.num_layers)
    throw fail(
      path,
      `the checkpoint's RNN has ${found.layers} layer${found.layers === 1 ? '' : 's'} but ` +
        `${key('num_layers', 'num_layers')} is ${rnn.num_layers}: set num_layers=${found.layers}`,
    );
  const total = found.per_direction * found.directions;
  if (total !== rnn.hidden_size)
    throw fail(
      path,
      `the checkpoint's RNN has hidden size ${total}` +
        `${bidirectional ? ` (${found.per_direction} per direction)` : ''} ` +
        `but ${key('hidden_size', 'hidden_size')} is ${rnn.hidden_size}: set hidden_size=${total}`,
    );
  if (found.input !== bertHidden)
    throw fail(
      path,
      `the checkpoint's RNN reads ${found.input} features but lm_file's BERT has hidden_size ` +
        `${bertHidden}: set lm_file to the model the checkpoint was trained from`,
    );
}
