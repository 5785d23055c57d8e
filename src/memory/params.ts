// Exact parameter accounting of BERT + a relation head: the tensor list, counts and allocator-rounded bytes.
// Pure functions; memory-model.md §2.2 has the formulas and the reference counts checked in tests.
import type { ModelDims } from './types.ts';

/** The caching allocator rounds every block up to a multiple of 512 bytes (memory-model.md §2.6). */
export const ALLOC_ROUND_BYTES = 512;

/** `bytes` rounded up as the CUDA caching allocator does (min 512 B). */
export function roundAlloc(bytes: number): number {
  return Math.max(ALLOC_ROUND_BYTES, Math.ceil(bytes / ALLOC_ROUND_BYTES) * ALLOC_ROUND_BYTES);
}

/** One parameter tensor: where it lives and whether autocast copies it (Linear) or AdamW decays it (matrix). */
export interface ParamTensor {
  numel: number;
  /** -1 embeddings, 0..L-1 encoder layers, L pooler/head */
  layer: number;
  linear: boolean;
  decay: boolean;
  /** present on the device but never trained (refit keeps an unused pooler under the entity-start head) */
  frozen?: boolean;
}

/** Which relation head sits on the encoder: hidden vectors concatenated (`concat` of them) or the pooler. */
export interface HeadShape {
  /** number of hidden vectors concatenated into the classifier (hf grid: CLS+head+tail = 3; refit: head+tail = 2) */
  concat: number;
  pooler: boolean;
  /** the pooler's weights exist but take no part in training */
  pooler_frozen?: boolean;
  num_labels: number;
  /**
   * An RNN over the encoder's output (DeepKE's LM head: torch nn.LSTM/GRU/RNN); the classifier reads its
   * final state.
   */
  rnn?: RnnHeadShape;
  /** The token head (task: ner): the classifier runs on every position, so its logits and loss scale with b·s. */
  per_token?: boolean;
}

/** The RNN of a head: gate blocks per cell (LSTM 4, GRU 3, RNN 1), units per direction, directions, stacked layers. */
export interface RnnHeadShape {
  gates: number;
  per_direction: number;
  directions: number;
  layers: number;
}

/**
 * Every parameter tensor of BertModel (+ optional pooler) (+ optional RNN) + Linear(concat·h or the RNN's
 * output, n), in module order.
 */
export function paramTensors(m: ModelDims, head: HeadShape): ParamTensor[] {
  const h = m.hidden_size;
  const I = m.intermediate_size;
  const t: ParamTensor[] = [];
  const add = (numel: number, layer: number, linear: boolean, decay: boolean) =>
    t.push({ numel, layer, linear, decay });
  add(m.vocab_size * h, -1, false, true);
  add(m.max_position_embeddings * h, -1, false, true);
  add(m.type_vocab_size * h, -1, false, true);
  add(h, -1, false, false);
  add(h, -1, false, false); // embeddings LayerNorm
  for (let l = 0; l < m.num_hidden_layers; l++) {
    for (let k = 0; k < 4; k++) {
      add(h * h, l, true, true);
      add(h, l, true, false);
    } // Q, K, V, attention output
    add(h, l, false, false);
    add(h, l, false, false); // attention LayerNorm
    add(I * h, l, true, true);
    add(I, l, true, false); // intermediate
    add(h * I, l, true, true);
    add(h, l, true, false); // output
    add(h, l, false, false);
    add(h, l, false, false); // output LayerNorm
  }
  const L = m.num_hidden_layers;
  if (head.pooler) {
    add(h * h, L, true, true);
    add(h, L, true, false);
    if (head.pooler_frozen) {
      t[t.length - 1].frozen = true;
      t[t.length - 2].frozen = true;
    }
  }
  const rnn = head.rnn;
  if (rnn) {
    // torch RNN parameters per layer and direction: weight_ih (G·u, in), weight_hh (G·u, u), bias_ih, bias_hh (G·u);
    // the RNN runs in fp32 outside autocast (as DeepKE, which has no AMP), so autocast keeps no 16-bit copy of them
    for (let l = 0; l < rnn.layers; l++) {
      const input = l === 0 ? h : rnn.directions * rnn.per_direction;
      for (let d = 0; d < rnn.directions; d++) {
        add(rnn.gates * rnn.per_direction * input, L, false, true);
        add(rnn.gates * rnn.per_direction ** 2, L, false, true);
        add(rnn.gates * rnn.per_direction, L, false, false);
        add(rnn.gates * rnn.per_direction, L, false, false);
      }
    }
  }
  add(head.num_labels * (rnn ? rnn.directions * rnn.per_direction : head.concat * h), L, true, true);
  add(head.num_labels, L, true, false);
  return t;
}

/** Total parameter count of a tensor list. */
export function countParams(tensors: readonly ParamTensor[]): number {
  return tensors.reduce((s, x) => s + x.numel, 0);
}

/** Allocated bytes of one copy of `tensors` at `bytesPerElem`, each tensor rounded to 512 B. */
export function tensorBytes(tensors: readonly ParamTensor[], bytesPerElem: number): number {
  return tensors.reduce((s, x) => s + roundAlloc(x.numel * bytesPerElem), 0);
}
