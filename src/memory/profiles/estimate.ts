// The phase model shared by the engine profiles (memory-model.md §2.5): peak = max(start of backward,
// optimizer step) in training, the deepest forward point in inference. Pure functions.
import { roundAlloc } from '../params.ts';
import type { GpuSpec, HostBytes, ModelDims, ProfileEstimate, RankBreakdown, RunShape } from '../types.ts';
import { INFER_COEFFICIENTS, TRAIN_COEFFICIENTS } from './coefficients.ts';
import {
  actClass,
  dot,
  exactTerms,
  inferClass,
  inferFeatures,
  offloads,
  trainFeatures,
  type ActClass,
  type InferClass,
  type EngineTraits,
  type ExactTerms,
  type InferFeatures,
  type TrainFeatures,
} from './terms.ts';

/** Derived coefficients by activation class (defaults: the calibrated table). */
export interface Coefficients {
  train: Record<ActClass, Record<keyof TrainFeatures, number>>;
  infer: Record<InferClass, Record<keyof InferFeatures, number>>;
}

/** The calibrated coefficients of ./coefficients.ts. */
export const DEFAULT_COEFFICIENTS: Coefficients = { train: TRAIN_COEFFICIENTS, infer: INFER_COEFFICIENTS };

/** Exact part of the start-of-backward phase: states, inputs, autocast cache, checkpoints, mask. */
export function backwardFixed(x: ExactTerms): number {
  return (
    x.weights +
    x.optimizer +
    x.workspace +
    x.inputs +
    x.autocast_fwd +
    x.checkpoints +
    x.mask +
    x.head_activations +
    x.lora_activations
  );
}

/** The optimizer-step phase (all exact): weights, grads, states, foreach temporary. */
export function stepPeak(x: ExactTerms): number {
  return x.weights + x.gradients + x.optimizer + x.optimizer_temp + x.workspace + x.inputs;
}

/** Exact part of the inference peak: weights, inputs, the whole autocast cache. */
export function inferFixed(x: ExactTerms): number {
  return x.weights + x.workspace + x.inputs + x.autocast_all + x.head_activations;
}

/**
 * What an offloaded training run keeps in host memory (undefined without offload): the exact optimizer terms, and the
 * saved activations the device no longer holds (every layer's but one, priced with the device's coefficients).
 */
export function hostBytes(
  model: ModelDims,
  run: RunShape,
  x: ExactTerms,
  coef: Coefficients,
): HostBytes | undefined {
  const off = offloads(run);
  if (!off.optimizer && !off.activations) return undefined;
  const c = coef.train[actClass(run)];
  const kept = trainFeatures(model, { ...run, offload: 'none' });
  const device = trainFeatures(model, run);
  const saved = (kept.layer - device.layer) * c.layer + (kept.sq - device.sq) * c.sq;
  const h = x.host;
  const activations = Math.round(saved) + h.checkpoints;
  const total = h.optimizer + h.master_weights + h.gradients + activations;
  return {
    optimizer: h.optimizer,
    master_weights: h.master_weights,
    gradients: h.gradients,
    activations,
    total,
  };
}

/**
 * Host bytes of an offloaded step of `micro_batches` micro-batches: `host.total`, and under optimizer offload the
 * worker's staging set of fp32 gradients (grad_stream.py), allocated when a step has a second micro-batch.
 */
export function hostStepBytes(host: HostBytes | undefined, micro_batches: number): number {
  if (!host) return 0;
  return host.total + (micro_batches > 1 ? host.gradients : 0);
}

function estimateTrain(model: ModelDims, run: RunShape, x: ExactTerms, coef: Coefficients): ProfileEstimate {
  const est = estimatePhases(model, run, x, coef);
  const host = hostBytes(model, run, x, coef);
  return host ? { ...est, host } : est;
}

function estimatePhases(model: ModelDims, run: RunShape, x: ExactTerms, coef: Coefficients): ProfileEstimate {
  const f = trainFeatures(model, run);
  const c = coef.train[actClass(run)];
  const transients = f.tr * c.tr;
  const saved = f.layer * c.layer + f.sq * c.sq + f.bsh * c.bsh;
  const backward = backwardFixed(x) + saved + transients;
  const step = stepPeak(x);
  if (step >= backward) {
    return {
      params: x.params,
      peak_allocated_bytes: step,
      peak_phase: 'optimizer-step',
      parts: {
        weights: x.weights,
        gradients: x.gradients,
        optimizer: x.optimizer,
        autocast_copies: 0,
        activations: x.inputs,
        transients: x.optimizer_temp,
        workspace: x.workspace,
      },
    };
  }
  const peak = Math.round(backward);
  const tr = Math.round(transients);
  return {
    params: x.params,
    peak_allocated_bytes: peak,
    peak_phase: 'backward',
    parts: {
      weights: x.weights,
      gradients: 0,
      optimizer: x.optimizer,
      autocast_copies: x.autocast_fwd,
      // saved activations + inputs + checkpoints + mask: the rest of the peak, so the parts add up exactly
      activations: peak - x.weights - x.optimizer - x.autocast_fwd - tr - x.workspace,
      transients: tr,
      workspace: x.workspace,
    },
  };
}

function estimateInfer(model: ModelDims, run: RunShape, x: ExactTerms, coef: Coefficients): ProfileEstimate {
  const live = Math.round(dot(inferFeatures(model, run), coef.infer[inferClass(run)]));
  return {
    params: x.params,
    peak_allocated_bytes: inferFixed(x) + live,
    peak_phase: 'forward',
    parts: {
      weights: x.weights,
      gradients: 0,
      optimizer: 0,
      autocast_copies: x.autocast_all,
      activations: live + x.inputs + x.head_activations,
      transients: 0,
      workspace: x.workspace,
    },
  };
}

/**
 * The estimate of `run` for an engine described by `traits` (coefficients default to the calibrated table).
 * nn.DataParallel (`run.data_parallel` > 1, DeepKE's use_multi_gpu) is planned on GPU 0 [derived]: the
 * replicas' weights on GPU 0 are the module's own (broadcast keeps the source tensors), the gradients are
 * reduced onto it and the whole optimizer lives there, so the model states are a single GPU's; activations
 * are those of GPU 0's chunk of the batch (ceil(b/n)); the whole batch's inputs arrive on GPU 0 before the
 * scatter and the outputs are gathered back to it. The replicas' gradients meet the reduced ones only at the
 * end of backward, when the activations are freed: about the size of AdamW's foreach temporary at the step.
 */
export function estimateWith(opts: {
  traits: EngineTraits;
  model: ModelDims;
  run: RunShape;
  device?: GpuSpec;
  coefficients?: Coefficients;
}): ProfileEstimate {
  const { traits, model, run, device } = opts;
  const coef = opts.coefficients ?? DEFAULT_COEFFICIENTS;
  const gpus = Math.max(1, Math.floor(run.data_parallel ?? 1));
  const world = Math.max(1, Math.floor(run.ranks ?? 1));
  if (world > 1 && run.mode === 'train') {
    const x = exactTerms(model, run, traits, device);
    const per_rank = rankTerms({ model, run, x, world });
    // ddp/zero1: the gradients live in DDP's buckets for the whole step (also during the first backward), so they count
    // with the persistent states and not again at the step.
    const persistent = per_rank.strategy === 'fsdp' ? 0 : per_rank.gradients;
    Object.assign(x, {
      weights:
        per_rank.weights +
        persistent +
        per_rank.ddp_buckets +
        per_rank.fsdp_gathered +
        per_rank.fsdp_prefetch,
      gradients: per_rank.strategy === 'fsdp' ? per_rank.gradients : 0,
      optimizer: per_rank.optimizer,
      // adamw-8bit's temporaries are one tensor's, the largest, on the rank that holds it
      optimizer_temp: Math.max(
        per_rank.strategy === 'ddp' || run.optimizer === 'adamw-8bit'
          ? x.optimizer_temp
          : Math.ceil(x.optimizer_temp / world),
        per_rank.comm_buffers,
      ),
    });
    return { ...estimateTrain(model, run, x, coef), per_rank };
  }
  if (gpus === 1) {
    const x = exactTerms(model, run, traits, device);
    return run.mode === 'train' ? estimateTrain(model, run, x, coef) : estimateInfer(model, run, x, coef);
  }
  const share: RunShape = { ...run, batch_size: Math.ceil(run.batch_size / gpus), data_parallel: 1 };
  const x = exactTerms(model, share, traits, device);
  const whole = exactTerms(model, { ...run, data_parallel: 1 }, traits, device);
  // + the gathered fp32 logits (a token head's: one row per position)
  const rows = run.head === 'token' ? run.batch_size * run.seq_len : run.batch_size;
  x.inputs = whole.inputs + roundAlloc(4 * rows * run.num_labels);
  return run.mode === 'train' ? estimateTrain(model, share, x, coef) : estimateInfer(model, share, x, coef);
}

/** DDP's gradient buckets in refit's worker are this size (worker/python/refit_worker/dist.py BUCKET_BYTES). */
export const DIST_BUCKET_BYTES = 25 * 2 ** 20;

/**
 * One rank's model states with `world` ranks [derived, not yet measured on several GPUs]. ddp: whole weights,
 * gradients and optimizer states; the gradients are views into DDP's buckets (gradient_as_bucket_view), summed in
 * place by one sync pass (dist.Replicas), so there is no second set (ddp_buckets 0, no copy buffers) but they are
 * held for the whole step, also during the first micro-batch's backward. zero1: the optimizer states
 * (and their foreach temporary) ÷ world, rounded up (ZeRO partitions whole tensors, so the largest shard can be a
 * little more). fsdp: weights, gradients and states ÷ world, plus the gathered unit (the embeddings, the largest) and
 * the next encoder layer prefetched, both in fp32; its reduce-scatter buffer is one layer's gradients.
 */
export function rankTerms(o: {
  model: ModelDims;
  run: RunShape;
  x: ReturnType<typeof exactTerms>;
  world: number;
}): RankBreakdown {
  const { model: m, run, x, world } = o;
  const strategy = run.strategy ?? 'ddp';
  const h = m.hidden_size,
    I = m.intermediate_size;
  const layer = 4 * (4 * h * h + 2 * h * I + 9 * h + I); // one encoder layer's fp32 parameters
  const embeddings = 4 * (m.vocab_size + m.max_position_embeddings + m.type_vocab_size + 2) * h;
  const bucket = Math.min(DIST_BUCKET_BYTES, x.gradients);
  const shard = (bytes: number) => Math.ceil(bytes / world);
  if (strategy === 'fsdp') {
    return {
      world,
      strategy,
      weights: shard(x.weights),
      gradients: shard(x.gradients),
      optimizer: shard(x.optimizer),
      ddp_buckets: 0,
      fsdp_gathered: Math.max(layer, embeddings),
      fsdp_prefetch: layer,
      comm_buffers: layer,
    };
  }
  void bucket; // in-place all-reduce: gloo and NCCL need no copy of a bucket
  return {
    world,
    strategy,
    weights: x.weights,
    gradients: x.gradients,
    optimizer: strategy === 'zero1' ? shard(x.optimizer) : x.optimizer,
    ddp_buckets: 0,
    fsdp_gathered: 0,
    fsdp_prefetch: 0,
    comm_buffers: 0,
  };
}
