// Finds out-of-memory reports in any log text (tracebacks, progress bars, wrapped or truncated lines) and
// reads the last one into an OomReport. The detector table below is the only list of formats; no I/O.
import { readAllocatorFields, readMpsFields, type AllocatorFields } from './allocator-fields.ts';
import { sizeToBytes } from './sizes.ts';
import {
  compactIndexOf,
  excerpt,
  normalizeLog,
  rankAt,
  textIndexOf,
  type NormalizedText,
} from './normalize.ts';

/** What kind of memory failure a text reports. */
export type OomKind = 'allocator-oom' | 'driver-oom' | 'library-oom' | 'host-oom' | 'not-oom';

/**
 * One out-of-memory report; byte fields (those of AllocatorFields) are integers and absent when the
 * message does not carry them.
 */
export interface OomReport extends Omit<AllocatorFields, 'end'> {
  kind: OomKind;
  /** The report's text, whitespace collapsed (absent for not-oom). */
  message?: string;
  /** Which detector matched, e.g. `cuda-allocator`, `cublas`, `oom-killer`, `dataloader-shm`. */
  source?: string;
  /** Look-alike errors seen (not OOM by themselves), e.g. an allocator INTERNAL ASSERT under pressure. */
  look_alikes?: string[];
  /**
   * Several ranks: the rank that ran out, from its line's launcher prefix (`[rank1]:`), refit's `on rank N`, or
   * torchrun's failure summary (`rank : 1 (local_rank: 1)` under "Root Cause").
   */
  rank?: number;
  /**
   * Several ranks: the other ranks' failures that follow from this one (collective timeouts, NCCL errors), in
   * words.
   */
  rank_note?: string;
}

type Reader = (span: string, base: number) => AllocatorFields;

interface Detector {
  kind: Exclude<OomKind, 'not-oom'>;
  source: string;
  /** `compact` regexes see the text without any whitespace; `text` regexes see lines. */
  on: 'compact' | 'text';
  re: RegExp;
  read?: Reader;
  /** Reads requested bytes from the host allocator messages. */
  hostRequest?: boolean;
}

// Device words in front of the allocator's " out of memory." (CUDA, ROCm, Intel, Ascend, Cambricon, Moore Threads).
const DEVICE = '(?:CUDA|HIP|XPU|NPU|MLU|MUSA)';
// An exit status of 137 (128 + SIGKILL) or -9 after "exit code", "exited with status", "returncode" and the like.
const EXIT_CODE_WORDS = /\b(?:exit(?:ed)?(?: with)?[ _]?(?:code|status)|return[ _]?code|returncode|exitcode)/;
const EXIT_137 = /\s*[:=]?\s*(?:137|-9)(?!\d|\.\d)/;

const DETECTORS: readonly Detector[] = Object.freeze([
  // Allocator: "CUDA out of memory. Tried to allocate …" (also truncated right after "memory.").
  {
    kind: 'allocator-oom',
    source: 'allocator',
    on: 'compact',
    re: new RegExp(`${DEVICE}outofmemory(?:\\.|(?=Tried)|$)`, 'g'),
    read: readAllocatorFields,
  },
  // The body quoted without its "CUDA out of memory." (edited logs): the exception type leads straight to the request.
  {
    kind: 'allocator-oom',
    source: 'allocator',
    on: 'compact',
    re: /OutOfMemoryError:(?=Triedtoallocate)/g,
    read: readAllocatorFields,
  },
  {
    kind: 'allocator-oom',
    source: 'mps-allocator',
    on: 'compact',
    re: /MPSbackendoutofmemory/g,
    read: readMpsFields,
  },
  // Driver / runtime: cudaErrorMemoryAllocation surfaced outside the caching allocator.
  {
    kind: 'driver-oom',
    source: 'cuda-runtime',
    on: 'compact',
    re: /(?:CUDA|HIP|XPU)(?:driver)?error:outofmemory/g,
  },
  {
    kind: 'driver-oom',
    source: 'cuda-runtime',
    on: 'compact',
    re: /cudaruntimeerror\(2\):outofmemory|THCudaCheckFAILfile=[^:]{0,200}?error=2:outofmemory/gi,
  },
  {
    kind: 'driver-oom',
    source: 'cuda-runtime',
    on: 'compact',
    re: /CUDA_ERROR_OUT_OF_MEMORY|cudaErrorMemoryAllocation|hipErrorOutOfMemory|Cudafailure'outofmemory'/g,
  },
  // Libraries that allocate their own workspaces/handles.
  { kind: 'library-oom', source: 'cublas', on: 'compact', re: /(?:CUBLAS|HIPBLAS)_STATUS_ALLOC_FAILED/g },
  {
    kind: 'library-oom',
    source: 'cudnn',
    on: 'compact',
    re: /CUDNN_STATUS_(?:NOT_SUPPORTED|ALLOC_FAILED)|miopenStatusAllocFailed/g,
  },
  {
    kind: 'library-oom',
    source: 'cuda-library',
    on: 'compact',
    re: /(?:CUSOLVER|CUSPARSE)_STATUS_ALLOC_FAILED|CUFFT_ALLOC_FAILED/g,
  },
  // Host memory.
  {
    kind: 'host-oom',
    source: 'cpu-allocator',
    on: 'compact',
    re: /DefaultCPUAllocator:(?:can'tallocatememory|notenoughmemory)/g,
    hostRequest: true,
  },
  {
    kind: 'host-oom',
    source: 'python-memoryerror',
    on: 'text',
    re: /^(?:[\w.]*\.)?_?(?:Array)?MemoryError\b(?!\w)/gm,
    hostRequest: true,
  },
  {
    kind: 'host-oom',
    source: 'dataloader-killed',
    on: 'compact',
    re: /DataLoaderworker\(pids?\(?[\d,]*\)?\)iskilledbysignal:Killed/g,
  },
  {
    kind: 'host-oom',
    source: 'dataloader-shm',
    on: 'compact',
    re: /DataLoaderworker\(pids?\(?[\d,]*\)?\)iskilledbysignal:Buserror|Unexpectedbuserrorencounteredinworker/g,
  },
  {
    kind: 'host-oom',
    source: 'oom-killer',
    on: 'compact',
    re: /outofmemory:Kill(?:ed)?process\d+|invokedoom-killer|oom-kill:/gi,
  },
  // Batch schedulers and Kubernetes: slurm's cgroup OOM, pod status OOMKilled.
  {
    kind: 'host-oom',
    source: 'oom-killer',
    on: 'compact',
    re: /Detected\d+oom_killevents?|OOMKilled|task\d+:OutOfMemory/g,
  },
  {
    kind: 'host-oom',
    source: 'killed',
    on: 'text',
    re: /^[ \t]*Killed(?::? 9)?[ \t]*$|^.*\bline \d+: +\d+ Killed\b.*$|^\[\d+\][+-]? +(?:\d+ +)?Killed\b.*$/gm,
  },
  // The shell's "Killed" printed where a progress bar left the cursor (tqdm redraws its line with \r and no
  // newline): `… 410/912 [02:11<02:41, 3.11it/s]Killed`. The line must carry a bar's count, percent or rate, and
  // "Killed" must end it right after the bar's end (`]`, `|` or a digit), not after a word.
  {
    kind: 'host-oom',
    source: 'killed',
    on: 'text',
    re: /^[^\n]*?(?:\d+\/\d+|\d+%|it\/s|s\/it)[^\n]*?[\]|\d][ \t]*Killed(?::? 9)?[ \t]*$/gm,
  },
  {
    kind: 'host-oom',
    source: 'exit-137',
    on: 'text',
    re: new RegExp(EXIT_CODE_WORDS.source + EXIT_137.source, 'gi'),
  },
  { kind: 'host-oom', source: 'exit-137', on: 'text', re: /Signal 9 \(SIGKILL\)|<Signals\.SIGKILL: 9>/g },
]);

// Errors that look like OOM but are not (memory-model.md §3.4); reported as not-oom with a note.
const LOOK_ALIKES: ReadonlyArray<{ re: RegExp; what: string }> = Object.freeze([
  {
    re: /INTERNAL ASSERT FAILED at "?[^"\n]*CUDACachingAllocator/,
    what:
      'a caching-allocator INTERNAL ASSERT (seen under memory pressure, often with expandable_segments ' +
      '+ max_split_size_mb)',
  },
  {
    re: /CUDA driver error: device not ready/,
    what: '"CUDA driver error: device not ready" (seen under memory pressure)',
  },
  {
    re: /CUBLAS_STATUS_NOT_INITIALIZED|CUDNN_STATUS_INTERNAL_ERROR/,
    what:
      'a cuBLAS/cuDNN initialisation error (often a GPU too full to create the handle: check ' +
      'nvidia-smi, restart with a smaller peak)',
  },
  {
    re: /more than INT_MAX elements/,
    what: 'a tensor larger than INT_MAX elements (a size limit, not memory)',
  },
  { re: /Invalid buffer size/, what: '"Invalid buffer size" (a size limit, not memory)' },
  {
    re: /Watchdog caught collective operation timeout|a collective timed out after \d+ s/,
    what:
      'a collective timeout (one rank waited for another that hung, died or ran out of memory: look ' +
      "for that rank's own error)",
  },
  {
    re: /NCCL error|ncclInternalError|ncclSystemError|ncclRemoteError|ncclUnhandledCudaError/,
    what:
      'an NCCL error (communication between ranks, not memory by itself; a peer that died shows as ' +
      'ncclRemoteError)',
  },
]);

interface Hit {
  detector: Detector;
  pos: number;
  cpos: number;
}

/** All detector hits in text order. */
function findHits(norm: NormalizedText): Hit[] {
  const hits: Hit[] = [];
  for (const detector of DETECTORS) {
    const onCompact = detector.on === 'compact';
    const hay = onCompact ? norm.compact : norm.text;
    detector.re.lastIndex = 0;
    for (let m = detector.re.exec(hay); m; m = detector.re.exec(hay)) {
      if (m[0].length === 0) {
        detector.re.lastIndex++;
        continue;
      }
      const pos = onCompact ? textIndexOf(norm, m.index) : m.index;
      // A compact match must start a word in the real text ("ERRORCUDA…" is fine, "SHIP out of…" is not).
      if (onCompact && pos > 0 && /[A-Za-z0-9]/.test(norm.text[pos - 1])) continue;
      hits.push({ detector, pos, cpos: onCompact ? m.index : compactIndexOf(norm, m.index) });
    }
  }
  return hits.sort((a, b) => a.pos - b.pos);
}

// How far (compact chars) an allocator message may reach when nothing else follows it.
const MAX_REPORT_COMPACT_CHARS = 3000;

/** Reads every OOM report found in `text`, in order of appearance. */
export function findOomReports(text: string): OomReport[] {
  const norm = normalizeLog(text);
  const hits = findHits(norm);
  return hits.map((hit, i) => {
    const next = i + 1 < hits.length ? hits[i + 1].cpos : norm.compact.length;
    return readHit(norm, hit, Math.min(next, hit.cpos + MAX_REPORT_COMPACT_CHARS));
  });
}

function readHit(norm: NormalizedText, hit: Hit, cEnd: number): OomReport {
  const { detector } = hit;
  const report: OomReport = { kind: detector.kind };
  let endPos = hit.pos + 1;
  if (detector.read) {
    const { end, ...fields } = detector.read(norm.compact.slice(hit.cpos, cEnd), hit.cpos);
    Object.assign(report, fields);
    endPos = Math.max(endPos, textIndexOf(norm, Math.max(hit.cpos, end - 1)) + 1);
  }
  if (detector.hostRequest) {
    const span = norm.compact.slice(hit.cpos, cEnd);
    const m = /^.{0,300}?youtriedtoallocate(\d+)bytes/.exec(span);
    // numpy prints 3 significant figures ("Unable to allocate 3.00 GiB for an array"): approximate, still useful.
    const np = m
      ? null
      : /^.{0,300}?Unabletoallocate(\d+(?:\.\d*)?)(bytes|KiB|MiB|GiB|TiB)foranarray/.exec(span);
    if (m) report.requested_bytes = Number(m[1]);
    else if (np) report.requested_bytes = sizeToBytes(np[1].replace(/\.$/, ''), np[2]);
  }
  const start = detector.read ? hit.pos : lineStart(norm.text, hit.pos);
  report.message = excerpt(norm.text, start, endPos);
  const rank = rankAt(norm, hit.pos) ?? refitRank(norm.text, hit.pos);
  if (rank !== undefined) report.rank = rank;
  report.source = detector.source === 'allocator' ? allocatorSource(report.message) : detector.source;
  return report;
}

/**
 * refit's own run log names the rank on the hit's line: `out of memory in step 3, micro-batch 0 on rank 1: …`, or
 * under fsdp `rank 1: out of memory under fsdp at step 5, micro-batch 0: …`.
 */
function refitRank(text: string, pos: number): number | undefined {
  const start = lineStart(text, pos);
  const m = / on rank (\d+):|\brank (\d+): out of memory under fsdp/.exec(text.slice(start, pos));
  return m ? Number(m[1] ?? m[2]) : undefined;
}

// torchrun's elastic failure summary: the first observed failure's rank.
const ROOT_CAUSE_RE = /Root Cause \(first observed failure\):[\s\S]{0,400}?\brank\s*:\s*(\d+)/;
// What the other ranks print when one of them failed: collective timeouts and NCCL/gloo errors.
const PEER_TIMEOUT_RE =
  /Watchdog caught collective operation timeout|ProcessGroupNCCL[^\n]{0,200}?[Tt]imeout/;
const PEER_NCCL_RE = /NCCL error|ncclInternalError|ncclSystemError|ncclRemoteError/;
const PEER_CLOSED_RE =
  /Connection closed by peer|Connection reset by peer|a collective timed out after \d+ s/;
const PEER_FAILURE_RE = new RegExp(
  `${PEER_TIMEOUT_RE.source}|${PEER_NCCL_RE.source}|${PEER_CLOSED_RE.source}`,
);

/**
 * Adds the rank of a multi-rank log's OOM from torchrun's summary when no prefix named it, and a note on the
 * other ranks' errors.
 */
function withRanks(report: OomReport, text: string): OomReport {
  if (report.rank === undefined) {
    const m = ROOT_CAUSE_RE.exec(text);
    if (m) report.rank = Number(m[1]);
  }
  if (report.rank !== undefined && PEER_FAILURE_RE.test(text)) {
    report.rank_note =
      `rank ${report.rank} ran out of memory; the collective timeouts or NCCL/gloo errors ` +
      `of the other ranks follow from it (they waited for rank ${report.rank}), so fix rank ` +
      `${report.rank}'s memory, not the network`;
  }
  return report;
}

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

function allocatorSource(message: string): string {
  const m = /^(CUDA|HIP|XPU|NPU|MLU|MUSA)/.exec(message);
  return `${(m ? m[1] : 'cuda').toLowerCase()}-allocator`;
}

const NUMBER_FIELDS = [
  'device_index',
  'requested_bytes',
  'total_bytes',
  'free_bytes',
  'allocated_bytes',
  'reserved_bytes',
  'reserved_unallocated_bytes',
  'process_in_use_bytes',
  'allowed_bytes',
] as const;

/** True when `full` carries every number `part` has (equal) and more: the same report quoted again, shorter. */
function isFullerCopy(full: OomReport, part: OomReport): boolean {
  if (full.kind !== part.kind) return false;
  const have = (r: OomReport) => NUMBER_FIELDS.filter((k) => r[k] !== undefined);
  return have(part).every((k) => full[k] === part[k]) && have(full).length > have(part).length;
}

/**
 * Reads the last out-of-memory report in `text` (a log, a traceback, one message); `kind: 'not-oom'` when none.
 * When the last one is a shorter quote of an earlier report (same kind, same numbers), the fuller one is returned.
 */
export function parseOomReport(text: string): OomReport {
  const reports = findOomReports(text);
  if (reports.length > 0) {
    const last = reports[reports.length - 1];
    for (let i = reports.length - 2; i >= 0; i--)
      if (isFullerCopy(reports[i], last)) return withRanks(reports[i], text);
    return withRanks(last, text);
  }
  const look = LOOK_ALIKES.filter((l) => l.re.test(text)).map((l) => l.what);
  return look.length > 0 ? { kind: 'not-oom', look_alikes: look } : { kind: 'not-oom' };
}
