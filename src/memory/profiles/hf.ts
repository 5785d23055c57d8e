// The `hf` profile: Hugging Face BertModel as DeepKE / HF Trainer run it, exactly as ../shared/golden/memory
// measured it (no pooler, concat(CLS, head, tail) → Linear(3h, n); foreach AdamW over one param group).
import type { EngineProfile } from '../types.ts';
import { estimateWith } from './estimate.ts';
import type { EngineTraits } from './terms.ts';

/** Engine traits of HF BertModel; head=cls uses the pooler + Linear(h, n). */
export function hfTraits(head: 'entity-start' | 'cls' | 'deepke-lm' = 'entity-start'): EngineTraits {
  return {
    head: head === 'cls' ? { concat: 1, pooler: true, num_labels: 0 } : { concat: 3, pooler: false, num_labels: 0 },
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
  estimate: (model, run, device) => estimateWith({ traits: hfTraits(run.head), model, run, device }),
});
