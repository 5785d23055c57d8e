// What `--resume` may change. A resumed run is the same run: every config key that changes its trajectory (the
// data, the model, the steps and their order, the optimizer, the memory plan, the device) must stay as the run
// was started, and an override of one is refused with one line naming the key, the stored value and the way out.
// A few keys are safe: they are applied and config.yaml is rewritten (RESUME_SAFE says why each is safe).
import { CONFIG_KEYS, type RunConfig } from '../config/index.ts';
import { RefitError } from '../errors.ts';

/** Keys `--resume` may change, with why that is safe. Every other key is refused (RESUME_REFUSED says why). */
export const RESUME_SAFE: Readonly<Record<string, string>> = Object.freeze({
  'train.epochs':
    'more epochs only: the learning-rate schedule is stretched to the new total from the resume step on',
  'train.early_stopping_patience': 'only decides when training stops, not what a step does',
  'predict.na_threshold': 'read by predict and serve only',
  'predict.top_k': 'read by predict and serve only',
  'export.onnx': 'only decides whether model.onnx is written after training',
  'data.test': 'the test split is only evaluated after training',
  'engine.python': 'which interpreter runs the worker, not what it computes',
  out: 'the run folder is --out itself',
  // Several ranks: a step's examples and its loss normalisation do not depend on the world size, and checkpoints
  // hold whole (consolidated) states, so a run continues on another number of ranks or strategy.
  'distributed.nproc_per_node':
    'the examples of each step and the effective batch do not depend on the number of ranks',
  'distributed.nnodes':
    'the examples of each step and the effective batch do not depend on the number of ranks',
  'distributed.node_rank': 'where this machine sits in the group, not what a step computes',
  'distributed.master_addr': 'the rendezvous address, not what a step computes',
  'distributed.master_port': 'the rendezvous port, not what a step computes',
  'distributed.strategy': 'ddp and zero1 compute the same update; checkpoints hold the whole optimizer state',
  'distributed.backend': 'how ranks talk, not what a step computes',
});

/** Why a refused key changes the run, by key or by its section (the longest match wins). */
export const RESUME_REFUSED: Readonly<Record<string, string>> = Object.freeze({
  'data.': 'it changes the training data or the relation set',
  'model.': 'it changes the model',
  'model.lora.': 'it changes which weights train and how (the adapters continue as they were started)',
  'train.': 'it changes the optimizer trajectory',
  'train.batch_size': 'it changes the number of steps and the learning-rate schedule',
  'train.seed': 'it changes the data order and dropout mid-run',
  'train.epochs': 'fewer epochs would cut the learning-rate schedule short',
  'memory.': 'the memory plan (plan.json) is fixed when a run starts; OOM recovery adjusts it by itself',
  device: 'it moves the run to another device mid-run',
  '': 'it changes the run',
});

/** Why `key` is refused on resume. */
export function refusedReason(key: string): string {
  let best = '';
  for (const k of Object.keys(RESUME_REFUSED)) {
    if ((key === k || (k.endsWith('.') && key.startsWith(k)) || k === '') && k.length >= best.length)
      best = k;
  }
  return RESUME_REFUSED[best];
}

/** The value of a dotted key in a resolved config. */
export function configValue(config: RunConfig, key: string): unknown {
  let v: unknown = config;
  for (const part of key.split('.'))
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

const show = (v: unknown): string =>
  v === undefined || v === null ? '(unset)' : typeof v === 'string' ? v : JSON.stringify(v);
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** One key a resume changes. */
export interface ResumeChange {
  key: string;
  from: unknown;
  to: unknown;
}

/**
 * Compares the config a resume asks for with the one the run was started with (its config.yaml). Returns the
 * safe changes (to apply and record); throws E_RESUME_CHANGED (exit 2) for the first refused one.
 */
export function checkResumeChanges(stored: RunConfig, asked: RunConfig, run_dir: string): ResumeChange[] {
  const changes: ResumeChange[] = [];
  const refused: ResumeChange[] = [];
  for (const key of CONFIG_KEYS) {
    const from = configValue(stored, key);
    const to = configValue(asked, key);
    if (same(from, to)) continue;
    const safe = key in RESUME_SAFE && !(key === 'train.epochs' && Number(to) < Number(from));
    (safe ? changes : refused).push({ key, from, to });
  }
  if (refused.length) {
    const r = refused[0];
    const more =
      refused.length > 1
        ? ` (also ${refused
            .slice(1)
            .map((c) => c.key)
            .join(', ')})`
        : '';
    throw new RefitError(
      'E_RESUME_CHANGED',
      `--resume cannot change ${r.key}: the run in ${run_dir} was started with ${show(r.from)}, this asks ` +
        `for ${show(r.to)} (${refusedReason(r.key)})${more}; ` +
        `drop the override to continue the run, or start a new run with --force (or another --out)`,
    );
  }
  return changes;
}

/** The changes as one short text for the `resume` event and the log. */
export function describeChanges(changes: readonly ResumeChange[]): string {
  return changes.map((c) => `${c.key} ${show(c.from)} → ${show(c.to)}`).join(', ');
}
