// The `hf` profile: Hugging Face BertModel as DeepKE / HF Trainer run it, exactly as ../shared/golden/memory
// measured it (no pooler, concat(CLS, head, tail) → Linear(3h, n); foreach AdamW over one param group).
// deepke-lm is DeepKE's LM model: BertModel with its pooler (computed, unused, so never given a gradient)
// → RNN over the packed sequence → dropout → Linear(RNN output, n); the RNN's terms are derived (terms.ts).
import type { EngineProfile, RnnShape, RunShape } from '../types.ts';
import type { HeadShape } from '../params.ts';
import { estimateWith } from './estimate.ts';
import { rnnHeadShape, type EngineTraits } from './terms.ts';

/** The head's tensors by head name (num_labels is the run's). */
const HF_HEADS: Readonly<Record<NonNullable<RunShape['head']>, (rnn?: RnnShape) => HeadShape>> =
  Object.freeze({
    'entity-start': () => ({ concat: 3, pooler: false, num_labels: 0 }),
    cls: () => ({ concat: 1, pooler: true, num_labels: 0 }),
    // BertForTokenClassification (DeepKE's standard NER): no pooler, Linear(h, n) on every position
    token: () => ({ concat: 1, pooler: false, num_labels: 0, per_token: true }),
    'deepke-lm': (rnn?: RnnShape) => ({
      concat: 0,
      pooler: true,
      pooler_frozen: true,
      num_labels: 0,
      rnn: rnnHeadShape(rnn),
    }),
  });

/**
 * Engine traits of HF BertModel; head=cls uses the pooler + Linear(h, n); deepke-lm an RNN (default DeepKE's
 * BiLSTM).
 */
export function hfTraits(head: NonNullable<RunShape['head']> = 'entity-start', rnn?: RnnShape): EngineTraits {
  return {
    head: HF_HEADS[head](rnn),
    // registered buffers position_ids and token_type_ids: int64 × 512 each (seen in base_alloc)
    buffer_bytes: 2 * 4096,
    adamw_temp: 'all',
    // the golden batches have no padding and HF drops an all-ones mask for SDPA
    sdpa_padding_mask: false,
    int64_inputs: 2, // ids + attention mask; token types come from the registered buffer (a view)
  };
}

/** Hugging Face BertModel (calibrated directly on the H200 measurements). */
export const HF_PROFILE: EngineProfile = Object.freeze<EngineProfile>({
  name: 'hf',
  estimate: (model, run, device) => estimateWith({ traits: hfTraits(run.head, run.rnn), model, run, device }),
});
