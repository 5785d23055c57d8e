// The `refit` profile: our worker (plain-torch BERT with HF names). Same physics and coefficients as `hf`,
// with these documented differences, to be re-measured on a GPU by its own issue:
// - head entity-start = concat(h[head_start], h[tail_start]) → Linear(2h, n); the pooler's weights stay on the device
//   but are never trained (cls: pooler + Linear(h, n), trained);
// - AdamW has two param groups (decay / no decay): the foreach temporary is the larger group, not all params;
// - SDPA always gets the padding mask: counted as one (b,1,s,s) tensor in the compute dtype (conservative);
// - no registered position/token-type buffers: token types are a zeros_like(ids) int64 tensor per batch.
import type { EngineProfile, RnnShape, RunShape } from '../types.ts';
import type { HeadShape } from '../params.ts';
import { estimateWith } from './estimate.ts';
import { rnnHeadShape, type EngineTraits } from './terms.ts';

/** The head's tensors by head name; deepke-lm: the RNN of terms.ts, the pooler's weights kept but never trained. */
const REFIT_HEADS: Readonly<Record<NonNullable<RunShape['head']>, (rnn?: RnnShape) => HeadShape>> =
  Object.freeze({
    'entity-start': () => ({ concat: 2, pooler: true, pooler_frozen: true, num_labels: 0 }),
    cls: () => ({ concat: 1, pooler: true, num_labels: 0 }),
    // the worker's token head: Linear(h, n) on every position; its pooler is built but never trained
    token: () => ({ concat: 1, pooler: true, pooler_frozen: true, num_labels: 0, per_token: true }),
    'deepke-lm': (rnn?: RnnShape) => ({
      concat: 0,
      pooler: true,
      pooler_frozen: true,
      num_labels: 0,
      rnn: rnnHeadShape(rnn),
    }),
  });

/** Engine traits of the refit worker. */
export function refitTraits(
  head: NonNullable<RunShape['head']> = 'entity-start',
  rnn?: RnnShape,
): EngineTraits {
  return {
    head: REFIT_HEADS[head](rnn),
    buffer_bytes: 0,
    adamw_temp: 'largest-group',
    sdpa_padding_mask: true,
    int64_inputs: 3, // ids, attention mask, token types
  };
}

/** The refit worker. */
export const REFIT_PROFILE: EngineProfile = Object.freeze<EngineProfile>({
  name: 'refit',
  estimate: (model, run, device) =>
    estimateWith({ traits: refitTraits(run.head, run.rnn), model, run, device }),
});
