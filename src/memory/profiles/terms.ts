// The memory terms every engine profile shares: exact model states and the derived activation features.
// Pure functions. Exact terms are byte-exact for the given dtypes; derived features are multiplied by the
// calibrated coefficients of ./coefficients.ts (fitted by bench/memory-calibrate.ts on ../shared/golden/memory).
import {
  paramTensors,
  roundAlloc,
  tensorBytes,
  countParams,
  type HeadShape,
  type ParamTensor,
  type RnnHeadShape,
} from '../params.ts';
import type { Attention, GpuSpec, ModelDims, Precision, RnnShape, RunShape } from '../types.ts';
import { WORKSPACE_BYTES } from './coefficients.ts';

/** Activation class: fp32 or autocast (fp16 and bf16 measure the same) × eager or SDPA attention. */
export type ActClass = `${'fp32' | 'amp'}-${Attention}`;

/** What differs between engines (documented in hf.ts and refit.ts). */
export interface EngineTraits {
  head: HeadShape;
  /** non-parameter buffers on the device (HF: position_ids + token_type_ids, int64 × max positions) */
  buffer_bytes: number;
  /** foreach AdamW temporary: one P-sized copy over all params, or over the largest param group */
  adamw_temp: 'all' | 'largest-group';
  /** SDPA with a padding mask materialised once per forward as (b,1,s,s) in the compute dtype */
  sdpa_padding_mask: boolean;
  /** int64 (b, s) tensors fed per step: ids + attention mask (+ token types built per batch) */
  int64_inputs: number;
}

/** Inference class: per precision (fp16 and bf16 eager inference measure differently) × attention. */
export type InferClass = `${Precision}-${Attention}`;

/** The inference class of a run. */
export function inferClass(run: RunShape): InferClass {
  return `${run.precision}-${run.attention}`;
}

/** The activation class of a run. */
export function actClass(run: RunShape): ActClass {
  return `${run.precision === 'fp32' ? 'fp32' : 'amp'}-${run.attention}` as ActClass;
}

/** Exact byte terms of a training or inference step (no coefficients involved). */
export interface ExactTerms {
  params: number;
  weights: number;
  gradients: number;
  optimizer: number;
  /** foreach AdamW `_foreach_sqrt` temporary at the optimizer step */
  optimizer_temp: number;
  /** 16-bit copies of Linear weights alive at the start of backward (autocast cache) */
  autocast_fwd: number;
  /** 16-bit copies of every Linear weight (inference under autocast keeps the whole cache) */
  autocast_all: number;
  workspace: number;
  inputs: number;
  /** gradient checkpointing: the saved fp32 input of every checkpointed layer */
  checkpoints: number;
  /** SDPA padding mask (refit) */
  mask: number;
  /** the RNN head's tensors at the peak (rnnActivationBytes; 0 without an RNN) */
  head_activations: number;
  /** LoRA: each adapter's x·A saved for backward (and, with lora dropout, its dropped input and mask) */
  lora_activations: number;
  /** offload: what host memory holds instead (the optimizer's states, its fp32 copy and gradients, checkpoints) */
  host: { optimizer: number; master_weights: number; gradients: number; checkpoints: number };
}

/** Whether a training run keeps its optimizer (states, step) and its saved activations in host memory. */
export function offloads(run: RunShape): { optimizer: boolean; activations: boolean } {
  const o = run.mode === 'train' ? (run.offload ?? 'none') : 'none';
  return { optimizer: o === 'optimizer' || o === 'all', activations: o === 'activations' || o === 'all' };
}

/** DeepKE's model/lm.yaml RNN: a 1-layer bidirectional LSTM of 100 (50 per direction). */
export const DEEPKE_LM_RNN: Readonly<RnnShape> = Object.freeze({
  type: 'LSTM',
  hidden_size: 100,
  num_layers: 1,
  bidirectional: true,
});

const RNN_GATES: Readonly<Record<RnnShape['type'], number>> = Object.freeze({ LSTM: 4, GRU: 3, RNN: 1 });

/** The parameter shape of an RNN head; DeepKE halves `hidden_size` per direction when bidirectional. */
export function rnnHeadShape(rnn: RnnShape = DEEPKE_LM_RNN): RnnHeadShape {
  const directions = rnn.bidirectional ? 2 : 1;
  return {
    gates: RNN_GATES[rnn.type],
    per_direction: Math.max(1, Math.floor(rnn.hidden_size / directions)),
    directions,
    layers: rnn.num_layers,
  };
}

/**
 * Bytes the RNN head holds at the peak [derived, not yet measured; small next to BERT's]. The packed
 * sequence is taken as every padded position (the real lengths are unknown here, so this is an upper bound).
 * Training, at the start of backward (the RNN's backward runs first): the packed copy of the encoder output
 * (cuDNN's saved input), each layer's output and cuDNN reserve space (gate activations + cell/hidden states,
 * ≈ (G+2) values per unit and token), then the backward's input gradient and a cuDNN workspace of one gate
 * block. Inference: the packed input, the layer outputs and the workspace (no reserve space).
 */
export function rnnActivationBytes(
  rnn: RnnHeadShape,
  o: { hidden: number; tokens: number; bytes: number; train: boolean },
): number {
  const out = o.tokens * rnn.directions * rnn.per_direction * o.bytes;
  const packed = roundAlloc(o.tokens * o.hidden * o.bytes);
  const workspace = roundAlloc(out * rnn.gates);
  if (!o.train) return packed + rnn.layers * roundAlloc(out) + workspace;
  const reserve = roundAlloc(out * (rnn.gates + 2));
  return packed + rnn.layers * (roundAlloc(out) + reserve) + packed + workspace;
}

/**
 * Bytes of the token head's logits and loss (task: ner) [derived, not yet measured; the classifier's own output
 * and cross-entropy, priced per token]: training holds the fp32 logits (cross_entropy upcasts them under autocast),
 * log_softmax's output saved for backward, the logits' gradient and the int64 labels; inference only the logits.
 */
export function tokenHeadBytes(o: { tokens: number; num_labels: number; train: boolean }): number {
  const logits = roundAlloc(4 * o.tokens * o.num_labels);
  if (!o.train) return logits;
  return 3 * logits + roundAlloc(8 * o.tokens);
}

function trainable(t: ParamTensor, freeze: number): boolean {
  return !t.frozen && !(t.layer === -1 && freeze > 0) && !(t.layer >= 0 && t.layer < freeze);
}

/** In and out features of the Linear layers LoRA can adapt (lora-levers.ts LORA_TARGETS). */
function loraDims(model: ModelDims): Readonly<Record<string, readonly [number, number]>> {
  const { hidden_size: h, intermediate_size: I } = model;
  const attn = [h, h] as const;
  return {
    query: attn,
    key: attn,
    value: attn,
    attention_output: attn,
    intermediate: [h, I],
    output: [I, h],
  };
}

/** LoRA's adapter tensors, A (r × in) and B (out × r) per target, in every layer from `first` (none without LoRA). */
export function loraTensors(model: ModelDims, run: RunShape, first: number): ParamTensor[] {
  const r = run.lora_rank ?? 0;
  const out: ParamTensor[] = [];
  if (r <= 0) return out;
  const dims = loraDims(model);
  for (let layer = first; layer < model.num_hidden_layers; layer++)
    for (const target of run.lora_targets ?? []) {
      const [i, o] = dims[target];
      out.push(
        { numel: r * i, layer, linear: true, decay: true },
        { numel: o * r, layer, linear: true, decay: true },
      );
    }
  return out;
}

/**
 * LoRA's activations: per adapted Linear of each layer holding full activations (one with checkpointing), x·A
 * (b·s·r, kept for B's gradient) and, with lora dropout, the dropped input and its bool mask (b·s·in each).
 */
function loraActivationBytes(model: ModelDims, run: RunShape, layers: number): number {
  if (!(run.lora_rank ?? 0) || run.mode !== 'train') return 0;
  const tokens = run.batch_size * run.seq_len;
  const bytes = run.precision === 'fp32' ? 4 : 2;
  const dims = loraDims(model);
  let per = 0;
  for (const target of run.lora_targets ?? []) {
    per += roundAlloc(bytes * tokens * run.lora_rank!);
    if ((run.lora_dropout ?? 0) > 0)
      per += roundAlloc(bytes * tokens * dims[target][0]) + roundAlloc(tokens * dims[target][0]);
  }
  return layers * per;
}

// LoRA: the adapters and the head train; the base weights stay (fp32) without gradients or optimizer states
function trainedOf(
  tensors: ParamTensor[],
  adapters: ParamTensor[],
  freeze: number,
  L: number,
): ParamTensor[] {
  return adapters.length
    ? [...tensors.filter((t) => t.layer === L && !t.frozen), ...adapters]
    : tensors.filter((t) => trainable(t, freeze));
}

/** The tensors an optimizer step updates (LoRA's adapters and the head, or every tensor not frozen). */
export function trainableTensors(o: {
  model: ModelDims;
  run: RunShape;
  traits: EngineTraits;
}): ParamTensor[] {
  const { model, run } = o;
  const tensors = paramTensors(model, { ...o.traits.head, num_labels: run.num_labels });
  const freeze = Math.min(run.freeze_layers ?? 0, model.num_hidden_layers);
  return trainedOf(tensors, loraTensors(model, run, freeze), freeze, model.num_hidden_layers);
}

/** Computes the exact terms of `run` on `model` for an engine with `traits`. */
export function exactTerms(
  model: ModelDims,
  run: RunShape,
  traits: EngineTraits,
  device?: GpuSpec,
): ExactTerms {
  const tensors = paramTensors(model, { ...traits.head, num_labels: run.num_labels });
  const freeze = Math.min(run.freeze_layers ?? 0, model.num_hidden_layers);
  const L = model.num_hidden_layers;
  const adapters = loraTensors(model, run, freeze);
  const train = trainedOf(tensors, adapters, freeze, L);
  const amp = run.precision !== 'fp32';
  const b = run.batch_size;
  const s = run.seq_len;
  const g = tensorBytes(train, 4);
  let optimizer = 2 * g;
  let temp = 0;
  if (run.optimizer === 'sgd')
    optimizer = g; // momentum buffer; SGD's update needs no P-sized temporary
  else if (run.optimizer === 'adamw-fused')
    optimizer += train.length * ALLOC_STEP_BYTES; // step counters live on the GPU
  else if (run.optimizer === 'adamw-8bit') ({ optimizer, temp } = adamw8bitBytes(train));
  else if (traits.adamw_temp === 'all') temp = g;
  else
    temp = Math.max(
      tensorBytes(
        train.filter((t) => t.decay),
        4,
      ),
      tensorBytes(
        train.filter((t) => !t.decay),
        4,
      ),
    );
  // LoRA training under autocast holds its frozen base in the 16-bit dtype (the worker's lora.hold_base)
  const base16 = adapters.length > 0 && amp && run.mode === 'train';
  const frozen = base16 ? tensors.filter((t) => !train.includes(t)) : [];
  const weights = base16
    ? tensorBytes(frozen, 2) + tensorBytes(train, 4)
    : tensorBytes(tensors, 4) + tensorBytes(adapters, 4);
  // 16-bit copies alive at the start of backward: the trained Linears' (autocast's cache), and under LoRA with an
  // fp32 base also the frozen base Linears of the trained layers (saved by autograd for their input's gradient)
  const linears =
    !base16 && adapters.length
      ? [...tensors.filter((t) => t.linear && trainable(t, freeze)), ...adapters]
      : train.filter((t) => t.linear);
  const topLinears = linears.filter((t) => t.layer >= L - 1); // the recomputed top layer + head
  const ckpt = run.grad_checkpointing && run.mode === 'train';
  const off = offloads(run);
  const checkpoints = ckpt ? (L - freeze) * roundAlloc(4 * b * s * model.hidden_size) : 0;
  return {
    params: countParams(tensors) + countParams(adapters),
    weights: weights + traits.buffer_bytes,
    gradients: off.optimizer ? streamedGradientBytes(train, g) : g,
    // optimizer offload: the states and the step (its temporary) on the host
    optimizer: off.optimizer ? 0 : optimizer,
    optimizer_temp: off.optimizer ? 0 : temp,
    autocast_fwd: amp ? tensorBytes(ckpt ? topLinears : linears, 2) : 0,
    autocast_all: amp
      ? tensorBytes(
          tensors.filter((t) => t.linear && !t.frozen),
          2,
        )
      : 0,
    workspace: device?.hopper === false ? WORKSPACE_BYTES.other : WORKSPACE_BYTES.hopper,
    // int64 (b, s) inputs (ids, attention mask, …) and head/tail positions + labels (b)
    inputs: traits.int64_inputs * roundAlloc(8 * b * s) + 3 * roundAlloc(8 * b),
    checkpoints: off.activations ? 0 : checkpoints,
    mask: traits.sdpa_padding_mask && run.attention === 'sdpa' ? roundAlloc((amp ? 2 : 4) * b * s * s) : 0,
    head_activations:
      (traits.head.rnn
        ? // fp32 under autocast too: the RNN runs outside autocast (the worker, as DeepKE)
          rnnActivationBytes(traits.head.rnn, {
            hidden: model.hidden_size,
            tokens: b * s,
            bytes: 4,
            train: run.mode === 'train',
          })
        : 0) +
      (traits.head.per_token
        ? tokenHeadBytes({ tokens: b * s, num_labels: run.num_labels, train: run.mode === 'train' })
        : 0),
    host: {
      optimizer: off.optimizer ? optimizer : 0,
      master_weights: off.optimizer ? g : 0,
      gradients: off.optimizer ? g : 0,
      checkpoints: off.activations ? checkpoints : 0,
    },
    lora_activations: loraActivationBytes(model, run, ckpt ? Math.min(1, L - freeze) : L - freeze),
  };
}

/** Device gradient bytes whose copy to the host may be in flight (worker grad_stream.py IN_FLIGHT_BYTES). */
export const STREAM_IN_FLIGHT_BYTES = 64 * 2 ** 20;

/**
 * The device gradients under optimizer offload, at most: the worker sends each to the host as backward produces it and
 * waits for the oldest copy past STREAM_IN_FLIGHT_BYTES, so it holds the copies in flight (the cap, or one larger
 * tensor alone) and the gradient backward is producing (at most the largest tensor); never more than all of them (g).
 */
export function streamedGradientBytes(train: readonly ParamTensor[], g: number): number {
  const largest = train.reduce((m, t) => Math.max(m, roundAlloc(4 * t.numel)), 0);
  return Math.min(g, Math.max(STREAM_IN_FLIGHT_BYTES, largest) + largest);
}

/** fused AdamW keeps its `step` as a 0-d fp32 tensor per parameter on the device: one 512 B block each. */
const ALLOC_STEP_BYTES = 512;

/** adamw-8bit's block: values sharing one fp32 scale (worker/python/refit_worker/adamw8bit.py's BLOCK). */
export const ADAMW_8BIT_BLOCK = 256;

/**
 * adamw-8bit, as the worker allocates it: per trainable tensor, both moments' uint8 codes padded to whole blocks and
 * one fp32 scale a block (the step counters stay on the host), plus its two 256-value maps and their midpoints; the
 * step's temporaries are one tensor's at a time, the largest: three fp32 buffers of its padded size (the two
 * dequantised moments and the denominator, or the int32 codes while quantising) and three scale-sized ones.
 */
export function adamw8bitBytes(train: readonly ParamTensor[]): { optimizer: number; temp: number } {
  let optimizer = 4 * roundAlloc(256 * 4);
  let temp = 0;
  for (const t of train) {
    const blocks = Math.max(1, Math.ceil(t.numel / ADAMW_8BIT_BLOCK));
    optimizer += 2 * (roundAlloc(blocks * ADAMW_8BIT_BLOCK) + roundAlloc(4 * blocks));
    temp = Math.max(temp, 3 * roundAlloc(4 * blocks * ADAMW_8BIT_BLOCK) + 3 * roundAlloc(4 * blocks));
  }
  return { optimizer, temp };
}

/** Derived training features (element counts × bytes-per-element of the memory-model.md §2.4 formulas). */
export interface TrainFeatures {
  /** saved per-layer activations linear in tokens: layers × b·s·(34h+8I) fp32 or (26h+4I) autocast */
  layer: number;
  /** saved eager-attention s² tensors: layers × b·a·s² × 9 (fp32) or 7 (autocast) */
  sq: number;
  /** non-layer tensors (embeddings block, head, backward gradients of hidden states): b·s·h */
  bsh: number;
  /** eager attention transients at the top layer: b·a·s² */
  tr: number;
}

/** Derived inference features. */
export interface InferFeatures {
  /** live FFN-block tensors: b·s·(3h + 2I) */
  ffn: number;
  /** eager attention scores and probabilities: b·a·s² */
  sq: number;
  /** autocast-only term ∝ hidden size (16-bit GEMM workspaces and casts; empirical): h */
  amp: number;
}

/**
 * Training features of `run`; layers holding full activations on the device: all trainable ones, or one with
 * checkpointing or activation offload (the others' wait in host memory).
 */
export function trainFeatures(model: ModelDims, run: RunShape): TrainFeatures {
  const { hidden_size: h, intermediate_size: I, num_attention_heads: a } = model;
  const b = run.batch_size;
  const s = run.seq_len;
  const amp = run.precision !== 'fp32';
  const eager = run.attention === 'eager';
  const active = model.num_hidden_layers - Math.min(run.freeze_layers ?? 0, model.num_hidden_layers);
  const full = run.grad_checkpointing || offloads(run).activations ? Math.min(1, active) : active;
  return {
    layer: full * b * s * (amp ? 26 * h + 4 * I : 34 * h + 8 * I),
    sq: eager ? full * b * a * s * s * (amp ? 7 : 9) : 0,
    bsh: b * s * h,
    tr: eager ? b * a * s * s : 0,
  };
}

/** Inference features of `run`. */
export function inferFeatures(model: ModelDims, run: RunShape): InferFeatures {
  const { hidden_size: h, intermediate_size: I, num_attention_heads: a } = model;
  const b = run.batch_size;
  const s = run.seq_len;
  return {
    ffn: b * s * (3 * h + 2 * I),
    sq: run.attention === 'eager' ? b * a * s * s : 0,
    amp: run.precision === 'fp32' ? 0 : h,
  };
}

/** Σ coefficient × feature over the keys of `features`. */
export function dot<K extends string>(features: Record<K, number>, coef: Record<K, number>): number {
  let s = 0;
  for (const k of Object.keys(features) as K[]) s += features[k] * coef[k];
  return s;
}
