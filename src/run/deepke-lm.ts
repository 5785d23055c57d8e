// The deepke-lm head in a training run: the gold-relation entity types DeepKE feeds (and an untyped test split so
// the label leak shows in the metrics), the two lines said at train start, and what metrics.json records about it.
import { readRelationTypes } from '../data/index.ts';
import type { RunConfig } from '../config/index.ts';
import type { RnnSpec } from '../worker/protocol.ts';
import type { TextSide } from '../session/index.ts';

/** metrics.json's `input` block of a deepke-lm run: where the type words came from, and why that matters. */
export interface DeepkeLmInputInfo {
  head: 'deepke-lm';
  /**
   * gold-relation: relation.csv's types of each row's gold relation (DeepKE's way; leaks the label); none:
   * mentions kept as text.
   */
  entity_types: 'gold-relation' | 'none';
  note: string;
}

/**
 * What a deepke-lm run encodes with: `text` for train/valid/test (gold types when there are any), `untyped`
 * for the honest test score.
 */
export interface DeepkeLmRun {
  text: TextSide;
  untyped: TextSide;
  info: DeepkeLmInputInfo;
  notes: string[];
}

const LEAK_NOTE =
  "entity types are taken from relation.csv by each row's gold relation, as DeepKE does: the input then " +
  'tells the model the ' +
  "answer's type pair, so test metrics are optimistic; test_without_types scores the same model with the " +
  'mentions kept as text';

/** The RNN spec the worker gets for the deepke-lm head (undefined for the other heads). */
export function rnnSpec(config: RunConfig): RnnSpec | undefined {
  return config.model.head === 'deepke-lm' ? { ...config.model.rnn } : undefined;
}

/** For model.head=deepke-lm: the encodings and the train-start lines; undefined for the other heads. */
export async function deepkeLmRun(opts: {
  config: RunConfig;
  relations_path?: string;
  text: TextSide;
  num_hidden_layers: number;
}): Promise<DeepkeLmRun | undefined> {
  const { config, text } = opts;
  if (config.model.head !== 'deepke-lm') return undefined;
  const types = opts.relations_path ? await readRelationTypes(opts.relations_path) : undefined;
  const gold = !!types && Object.keys(types).length > 0;
  const rnn = config.model.rnn;
  const layers = `${opts.num_hidden_layers} layer${opts.num_hidden_layers === 1 ? '' : 's'}`;
  const notes = [
    `model.head=deepke-lm is DeepKE's LM model (BERT cut to ${layers} → ` +
      `${rnn.bidirectional ? 'bidirectional ' : ''}${rnn.type} → fc); model.head=entity-start may be better: ` +
      'it marks the entities in the text instead of replacing them by type words, so it needs no entity ' +
      "types (no label leak), and it keeps the encoder's full depth",
  ];
  if (gold) notes.push(`${LEAK_NOTE} (in metrics.json)`);
  return {
    text: { ...text, deepke_lm: gold ? { relation_types: types } : {} },
    untyped: { ...text, deepke_lm: {} },
    info: {
      head: 'deepke-lm',
      entity_types: gold ? 'gold-relation' : 'none',
      note: gold ? LEAK_NOTE : 'no entity types in the data: mentions are kept as text (no label leak)',
    },
    notes,
  };
}
