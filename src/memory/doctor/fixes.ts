// General fixes for an OOM from the message alone (no run config): the fix for the cause first, then
// config changes ranked by expected speed, each with the numbers the message gives. Pure; no I/O.
import { ADVICE_LEVERS } from '../levers.ts';
import type { Diagnosis, OomCause } from './diagnose.ts';
import type { OomReport } from './parse.ts';
import { formatBytes as fmt } from '../../bytes.ts';

/** One suggested change; `config` keys are refit config keys (dotted), `env` environment variables. */
export interface DoctorFix {
  title: string;
  detail: string;
  /** Expected effect on training speed, in words: `faster`, `no slowdown`, `slower (~30 %)`, `restart`… */
  speed: string;
  config?: Record<string, string | number | boolean>;
  /** DeepKE overrides (`python run.py key=value`) for a DeepKE run: its own keys (batch_size, num_hidden_layers). */
  deepke?: Record<string, number>;
  /** The DeepKE script the overrides are for (default run.py; its standard NER: run_bert.py). */
  deepke_script?: string;
  env?: Record<string, string>;
  /** Predicted peak device bytes of the changed run (only with a config). */
  predicted_peak_bytes?: number;
  /** Predicted training throughput of the changed run (only with a config). */
  predicted_examples_per_s?: number;
  fits?: boolean;
}

/**
 * The memory-saving config changes that need no knowledge of the run, fastest first (`single_tensor`: helps a
 * tensor larger than the card).
 */
function shrinkFixes(r: OomReport, d: Diagnosis): Array<DoctorFix & { single_tensor: boolean }> {
  const f = d.figures;
  const budget =
    r.allowed_bytes !== undefined && d.cause === 'memory-fraction' ? r.allowed_bytes : f.room_bytes;
  const factor = budget !== undefined && f.need_min_bytes ? budget / f.need_min_bytes : undefined;
  const numbers =
    budget !== undefined && f.need_min_bytes !== undefined
      ? ` PyTorch can hold at most ${fmt(budget)}; at the failure the step needed at least ${fmt(f.need_min_bytes)} ` +
        `(live tensors + request), so b_new = floor(b × (${fmt(budget)} − static) / (needed − static)) ≤ b ` +
        `× ${factor!.toFixed(2)}; ` +
        'the real peak is higher than this lower bound and static (weights, gradients, AdamW states = 16 ' +
        'bytes/param in fp32) ' +
        'is not in the message.'
      : '';
  const budgetText = budget !== undefined ? fmt(budget).replace(' ', '') : 'NAME';
  // The levers' own advice (the lever table), fastest first.
  return ADVICE_LEVERS.map((l) => {
    const a = l.advice!;
    return {
      title: a.title,
      speed: a.speed,
      ...(a.config ? { config: { ...a.config } } : {}),
      detail: a.detail({ numbers, budget_text: budgetText }),
      single_tensor: a.single_tensor === true,
    };
  });
}

/** The allocator settings variable: the one the message names (ROCm builds may print either), else by backend. */
function allocConfVariable(r: OomReport): string {
  const named = /PYTORCH_(?:CUDA|HIP)_ALLOC_CONF/.exec(r.message ?? '');
  if (named) return named[0];
  return r.source === 'hip-allocator' ? 'PYTORCH_HIP_ALLOC_CONF' : 'PYTORCH_CUDA_ALLOC_CONF';
}

/** The fix that addresses the diagnosed cause itself (before any change of the run), by cause. */
const CAUSE_FIXES: Readonly<Partial<Record<OomCause, (r: OomReport, d: Diagnosis) => DoctorFix[]>>> =
  Object.freeze({
    fragmentation: (r: OomReport) => [
      {
        title: 'Use expandable segments (new process)',
        speed: 'no slowdown',
        env: { [allocConfVariable(r)]: 'expandable_segments:True' },
        detail:
          `${fmt(r.reserved_unallocated_bytes ?? 0)} sits reserved but unallocated in partly used ` +
          `segments; expandable ` +
          'segments grow one segment in place instead of leaving slivers. Set it before the process starts.',
      },
    ],
    'memory-fraction': (r: OomReport) => [
      {
        title: 'Raise or remove the memory-fraction cap',
        speed: 'no slowdown',
        config: { 'memory.budget': 'auto' },
        detail:
          `The cap is ${fmt(r.allowed_bytes ?? 0)} while the device has ${fmt(r.free_bytes ?? 0)} free; if ` +
          `the cap only ` +
          'simulates a smaller card, the changes below make the run fit under it.',
      },
    ],
    contention: (r: OomReport, d: Diagnosis) => {
      const pids = (r.other_processes ?? []).map((p) => p.pid).join(', ');
      const held = d.figures.others_bytes ?? d.figures.outside_bytes ?? 0;
      return [
        {
          title: 'Free the GPU from other processes, or use another GPU',
          speed: 'no slowdown',
          detail:
            `Other processes hold ${fmt(held)}${pids ? ` (pids ${pids})` : ''}; ` +
            'stop them (check `nvidia-smi`) or pick a ' +
            'free device with CUDA_VISIBLE_DEVICES.',
        },
      ];
    },
    'driver-failure': () => [
      {
        title: 'Restart in a fresh process with headroom',
        speed: 'restart',
        detail:
          'Check `nvidia-smi` for other processes; the CUDA context alone takes 0.3–0.6 GiB (1.0–1.4 GiB ' +
          'before CUDA 11.7), ' +
          'so plan the run at least 1 GiB under the card.',
      },
    ],
    'library-failure': () => [
      {
        title: 'Restart in a fresh process and leave headroom for library workspaces',
        speed: 'restart',
        detail:
          'cuBLAS needs 8.125 MiB per handle and stream (32 MiB on Hopper) and cuDNN its own workspace ' +
          "outside PyTorch's " +
          'cache; run with a smaller peak (below) so they have room.',
      },
    ],
  });

/** Host-memory fixes by what killed the process. */
function hostFixes(r: OomReport): DoctorFix[] {
  const req = r.requested_bytes !== undefined ? ` The failed request was ${fmt(r.requested_bytes)}.` : '';
  const shm: DoctorFix = {
    title: 'Give the container more shared memory',
    speed: 'no slowdown',
    detail: 'Run Docker with `--shm-size=8g` (or `--ipc=host`); the default /dev/shm is 64 MB.',
  };
  const workers: DoctorFix = {
    title: 'Use fewer DataLoader workers',
    speed: 'slightly slower input pipeline',
    detail:
      'Each worker holds its own copy of the dataset and batches; 0–2 workers are enough for tokenized BERT input.',
  };
  const data: DoctorFix = {
    title: 'Encode the dataset once and memory-map it',
    speed: 'faster',
    detail:
      `refit writes the tokenized dataset to a memory-mapped file so no process keeps a Python copy in RAM.${req} ` +
      'Check `dmesg | grep -i oom` and `free -g` to see what took the RAM.',
  };
  return r.source === 'dataloader-shm' ? [shm, workers] : [data, workers];
}

/** The fixes for the diagnosed cause itself (expandable segments, the cap, other processes, a restart). */
export function causeFixes(r: OomReport, d: Diagnosis): DoctorFix[] {
  return CAUSE_FIXES[d.cause]?.(r, d) ?? [];
}

/** General fixes for a report, cause fix first, then the config changes fastest first. */
export function generalFixes(r: OomReport, d: Diagnosis): DoctorFix[] {
  if (d.cause === 'none') return [];
  if (d.cause === 'host-memory') return hostFixes(r);
  const tooBig =
    d.cause === 'capacity' &&
    r.requested_bytes !== undefined &&
    d.figures.limit_bytes !== undefined &&
    r.requested_bytes > d.figures.limit_bytes;
  const shrink = shrinkFixes(r, d);
  // A single tensor larger than the card: only a smaller batch or sequence helps.
  return [
    ...causeFixes(r, d),
    ...(tooBig ? shrink.filter((x) => x.single_tensor) : shrink).map(({ single_tensor: _, ...fix }) => fix),
  ];
}
