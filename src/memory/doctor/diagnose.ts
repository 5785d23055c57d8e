// Turns an OomReport into a cause and a plain-words explanation with the numbers (memory-model.md §3.2
// classification, §1.7/§2.6 for context and fraction caps). Pure; the fixes are in fixes.ts.
import type { OomReport } from './parse.ts';
import { formatBytes as fmt } from '../../bytes.ts';

/** Why the run ran out of memory. */
export type OomCause =
  | 'capacity'
  | 'fragmentation'
  | 'contention'
  | 'memory-fraction'
  | 'driver-failure'
  | 'library-failure'
  | 'host-memory'
  | 'none';

/** Numbers derived from the report (bytes); absent when the message lacks what they need. */
export interface OomFigures {
  /** The ceiling for PyTorch's cache: the fraction cap when set, else the card. */
  limit_bytes?: number;
  /** What PyTorch could have held at most at the failure: reserved + free (capped). */
  room_bytes?: number;
  /** Live tensors plus the failed request: a lower bound of the peak the run needs. */
  need_min_bytes?: number;
  /** Device memory used by other processes (listed by NVML, or inferred). */
  others_bytes?: number;
  /** Device memory outside PyTorch's cache of this process (context, libraries, other processes). */
  outside_bytes?: number;
  /** The process's own non-PyTorch memory (CUDA context, cuBLAS/cuDNN), when the message says. */
  context_bytes?: number;
  /** True when the only "other" process is most likely this one seen from a container (host PID). */
  self_as_other?: boolean;
}

/** The diagnosis printed by `refit doctor`: a cause and its explanation in plain words. */
export interface Diagnosis {
  cause: OomCause;
  explanation: string;
  figures: OomFigures;
}

const GIB = 2 ** 30;
// Largest CUDA context + library memory seen without other processes (CUDA < 11.7 loads every kernel: 1.0–1.4 GiB).
const CONTEXT_MAX_BYTES = 1.4 * GIB;
// Reserved-but-unallocated must be at least this share of what PyTorch holds to call it fragmentation.
const FRAGMENTATION_SHARE = 0.1;
// Other processes must hold at least this share of the card (and the request) to call it contention.
const CONTENTION_SHARE = 0.05;

/** Derives the figures the diagnosis and the fixes use. */
export function oomFigures(r: OomReport): OomFigures {
  const f: OomFigures = {};
  f.limit_bytes = r.allowed_bytes ?? r.total_bytes;
  if (r.reserved_bytes !== undefined && r.free_bytes !== undefined) {
    const room = r.reserved_bytes + r.free_bytes;
    f.room_bytes = r.allowed_bytes !== undefined ? Math.min(r.allowed_bytes, room) : room;
  }
  if (r.allocated_bytes !== undefined && r.requested_bytes !== undefined)
    f.need_min_bytes = r.allocated_bytes + r.requested_bytes;
  if (r.process_in_use_bytes !== undefined && r.reserved_bytes !== undefined) {
    f.context_bytes = Math.max(0, r.process_in_use_bytes - r.reserved_bytes);
  }
  if (r.total_bytes !== undefined && r.free_bytes !== undefined && r.reserved_bytes !== undefined) {
    f.outside_bytes = Math.max(0, r.total_bytes - r.free_bytes - r.reserved_bytes);
  }
  const listed = r.other_processes ?? [];
  if (r.process_in_use_bytes === undefined && listed.length === 1 && r.reserved_bytes !== undefined) {
    // In a container NVML reports host PIDs, so the process itself shows up as "Process N has …".
    const b = listed[0].bytes;
    f.self_as_other = b >= r.reserved_bytes && b <= r.reserved_bytes + 3 * GIB;
  }
  if (listed.length > 0 && !f.self_as_other) f.others_bytes = listed.reduce((s, p) => s + p.bytes, 0);
  else if (
    r.process_in_use_bytes !== undefined &&
    r.total_bytes !== undefined &&
    r.free_bytes !== undefined
  ) {
    f.others_bytes = Math.max(0, r.total_bytes - r.free_bytes - r.process_in_use_bytes);
  }
  return f;
}

/** Diagnoses a report: the cause (memory-model.md §3.2 order) and an explanation with the numbers. */
export function diagnose(r: OomReport): Diagnosis {
  const f = oomFigures(r);
  const cause = classify(r, f);
  return { cause, explanation: EXPLAIN[cause](r, f), figures: f };
}

function classify(r: OomReport, f: OomFigures): OomCause {
  if (r.kind === 'not-oom') return 'none';
  if (r.kind === 'driver-oom') return 'driver-failure';
  if (r.kind === 'library-oom') return 'library-failure';
  if (r.kind === 'host-oom') return 'host-memory';
  const req = r.requested_bytes ?? 0;
  if (f.limit_bytes !== undefined && req > f.limit_bytes) return 'capacity';
  const slack = r.reserved_unallocated_bytes;
  if (
    slack !== undefined &&
    r.reserved_bytes !== undefined &&
    slack >= req &&
    slack >= FRAGMENTATION_SHARE * r.reserved_bytes
  )
    return 'fragmentation';
  if (
    r.allowed_bytes !== undefined &&
    r.total_bytes !== undefined &&
    r.allowed_bytes < r.total_bytes &&
    (r.free_bytes === undefined || r.free_bytes >= req)
  )
    return 'memory-fraction';
  if (r.total_bytes !== undefined && isContention(r, f, req, r.total_bytes)) return 'contention';
  return 'capacity';
}

function isContention(r: OomReport, f: OomFigures, req: number, total: number): boolean {
  const floor = Math.max(req, CONTENTION_SHARE * total);
  if (f.others_bytes !== undefined) return f.others_bytes >= floor;
  // 1.x messages name no processes: only memory beyond any plausible CUDA context points at others.
  if (f.outside_bytes !== undefined && !f.self_as_other) return f.outside_bytes - CONTEXT_MAX_BYTES >= floor;
  return false;
}

const pct = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(1)} %`;

/** "PyTorch held R (A in live tensors, U reserved but unallocated)". */
function heldSentence(r: OomReport): string {
  if (r.reserved_bytes === undefined) {
    return r.allocated_bytes !== undefined ? ` PyTorch had ${fmt(r.allocated_bytes)} in live tensors.` : '';
  }
  const unalloc = r.reserved_unallocated_bytes ?? 0;
  const alloc = r.allocated_bytes !== undefined ? `${fmt(r.allocated_bytes)} in live tensors, ` : '';
  return (
    ` PyTorch held ${fmt(r.reserved_bytes)} (${alloc}${fmt(unalloc)} reserved but unallocated, ` +
    `${pct(unalloc, Math.max(1, r.reserved_bytes))} of it).`
  );
}

function deviceName(r: OomReport): string {
  const idx = r.device_index !== undefined ? ` ${r.device_index}` : '';
  return `GPU${idx}${r.total_bytes !== undefined ? ` (${fmt(r.total_bytes)})` : ''}`;
}

function failedSentence(r: OomReport): string {
  const req = r.requested_bytes !== undefined ? `${fmt(r.requested_bytes)} more` : 'more memory';
  const free = r.free_bytes !== undefined ? ` had ${fmt(r.free_bytes)} free` : ' could not give it';
  return `PyTorch asked for ${req} for one tensor, but ${deviceName(r)}${free}.`;
}

function outsideSentence(r: OomReport, f: OomFigures): string {
  if (f.context_bytes !== undefined) {
    const others = f.others_bytes ? `; other processes use ${fmt(f.others_bytes)}` : '';
    return ` Outside its cache this process uses ${fmt(f.context_bytes)} (CUDA context and libraries)${others}.`;
  }
  if (f.outside_bytes === undefined) return '';
  const who = f.self_as_other
    ? 'CUDA context and libraries; the one process NVML lists is this one seen from a container'
    : 'CUDA context and libraries, 0.3–1.4 GiB, plus any other process such as a desktop';
  return ` ${fmt(f.outside_bytes)} of the card is used outside PyTorch's cache (${who}).`;
}

function needSentence(f: OomFigures, r: OomReport): string {
  if (f.need_min_bytes === undefined) return '';
  if (f.room_bytes !== undefined && f.need_min_bytes <= f.room_bytes) {
    return (
      ` The live tensors plus the new one come to ${fmt(f.need_min_bytes)}, under the ${fmt(f.room_bytes)} ` +
      `PyTorch may hold, ` +
      `but the new block needed fresh space: the ${fmt(r.reserved_unallocated_bytes ?? 0)} cached but ` +
      `unused could not serve it. ` +
      'The failing allocation is only the first that did not fit, so the real peak of the step is higher.'
    );
  }
  const room = f.room_bytes !== undefined ? `, while PyTorch could hold at most ${fmt(f.room_bytes)}` : '';
  return (
    ` The live tensors plus the new one need at least ${fmt(f.need_min_bytes)}${room}; the failing allocation` +
    ' is only the first that did not fit, so the real peak of the step is higher.'
  );
}

function truncatedNote(r: OomReport): string {
  return r.total_bytes === undefined && r.kind === 'allocator-oom'
    ? ' The message is cut short (PyTorch 2.3 printed only the request, pytorch #126766), so only the request is known.'
    : '';
}

const EXPLAIN: Readonly<Record<OomCause, (r: OomReport, f: OomFigures) => string>> = Object.freeze({
  capacity: (r: OomReport, f: OomFigures) => {
    if (r.requested_bytes !== undefined && f.limit_bytes !== undefined && r.requested_bytes > f.limit_bytes) {
      return (
        `One allocation of ${fmt(r.requested_bytes)} is larger than the whole ${fmt(f.limit_bytes)} ` +
        `available: no allocator ` +
        'setting can help; that tensor itself must shrink (batch size, sequence length, or a bug that ' +
        'builds a huge tensor).'
      );
    }
    return (
      `Capacity: the run needs more memory than the card gives it. ${failedSentence(r)}${heldSentence(r)}` +
      `${outsideSentence(r, f)}${needSentence(f, r)}${truncatedNote(r)}`
    );
  },
  fragmentation: (r: OomReport) =>
    `Fragmentation: ${fmt(r.reserved_unallocated_bytes ?? 0)} is reserved by PyTorch but unallocated ` +
    `(${pct(r.reserved_unallocated_bytes ?? 0, Math.max(1, r.reserved_bytes ?? 1))} of the ` +
    `${fmt(r.reserved_bytes ?? 0)} it holds), ` +
    `${r.requested_bytes !== undefined ? `more than the ${fmt(r.requested_bytes)} requested, ` : ''}` +
    'but it is split into pieces too small ' +
    'for the new tensor (varying batch shapes leave slivers in cached segments). Expandable segments fix ' +
    'this without slowing the run.',
  contention: (r: OomReport, f: OomFigures) => {
    const list = (r.other_processes ?? []).map((p) => `process ${p.pid}: ${fmt(p.bytes)}`).join(', ');
    const who = list
      ? ` (${list})`
      : f.others_bytes === undefined
        ? ' (the message names no processes; inferred from the memory missing)'
        : '';
    const others = f.others_bytes ?? Math.max(0, (f.outside_bytes ?? 0) - CONTEXT_MAX_BYTES);
    return (
      `Contention: other processes hold about ${fmt(others)} of ${deviceName(r)}${who}. ` +
      `${failedSentence(r)}${heldSentence(r)}` +
      ' Without the other processes the request would have fit.'
    );
  },
  'memory-fraction': (r: OomReport, f: OomFigures) =>
    `Memory-fraction cap: this process may use only ${fmt(r.allowed_bytes ?? 0)} ` +
    `(torch.cuda.set_per_process_memory_fraction or a budget) of ${deviceName(r)}, which still has ` +
    `${fmt(r.free_bytes ?? 0)} free.` +
    `${heldSentence(r)} With ${fmt(r.requested_bytes ?? 0)} more it would pass the cap.${needSentence(f, r)}`,
  'driver-failure': (r: OomReport) =>
    "A CUDA call outside PyTorch's caching allocator failed with out of memory (context creation, " +
    'library handles, `.to(device)` on a nearly full GPU, or other processes). The message carries no ' +
    'sizes. After this error ' +
    `the CUDA state is unreliable: retrying in the same process usually fails, so start a fresh process. (` +
    `${r.message ?? ''})`,
  'library-failure': (r: OomReport) =>
    `${r.source === 'cudnn' ? 'cuDNN' : 'A CUDA library (cuBLAS)'} could not allocate its handle or ` +
    "workspace (default cuBLAS workspace 8.125 MiB, 32 MiB on Hopper) because the GPU was full; PyTorch's " +
    'cache had taken the rest. ' +
    'The library state is not recovered in the same process: start a fresh one and leave headroom.',
  'host-memory': (r: OomReport) => HOST_EXPLAIN[r.source ?? ''] ?? HOST_EXPLAIN.killed,
  none: (r: OomReport) =>
    r.look_alikes?.length
      ? `Not an out-of-memory report, but it contains ${r.look_alikes.join('; ')}.`
      : 'No out-of-memory report found in this text.',
});

const HOST_EXPLAIN: Readonly<Record<string, string>> = Object.freeze({
  'cpu-allocator':
    "Host memory: PyTorch's CPU allocator could not get RAM for a tensor. The process (dataset, tokenized " +
    'features, model copies, pinned buffers) needs more RAM than the machine or container allows.',
  'python-memoryerror':
    'Host memory: Python raised MemoryError (a CPU-side allocation failed), usually loading or tokenizing ' +
    'a whole dataset.',
  'dataloader-killed':
    'Host memory: a DataLoader worker was killed by the Linux OOM killer; every worker holds a copy of the ' +
    'dataset and its own buffers, so the workers together ran the machine out of RAM.',
  'dataloader-shm':
    'Shared memory: a DataLoader worker hit a bus error because /dev/shm is too small (Docker gives 64 MB by ' +
    'default); workers pass batches to the main process through shared memory.',
  'oom-killer': "Host memory: the kernel's OOM killer ended the process because the machine ran out of RAM.",
  killed:
    'Host memory: the process was killed with SIGKILL (shell "Killed", exit code 137 or -9), almost always ' +
    'by the Linux ' +
    'OOM killer when RAM runs out (dataset loading/tokenization, pinned memory, DataLoader workers). ' +
    'Confirm with `dmesg`.',
  'exit-137':
    'Host memory: the process ended with SIGKILL (exit code 137 or -9), almost always the Linux OOM killer when RAM ' +
    'runs out (dataset loading/tokenization, pinned memory, DataLoader workers). Confirm with `dmesg | grep -i oom`.',
});
