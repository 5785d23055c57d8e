// Reads the numbers out of one caching-allocator OOM message (every PyTorch format since 1.0, HIP, XPU,
// NPU, MPS), clause by clause on whitespace-free text so wrapped and truncated messages still give
// what they carry. Semantics follow memory-model.md §3.2; nothing is guessed for absent clauses.
import { sizeToBytes } from './sizes.ts';

/** The fields one allocator message carries, in integer bytes (absent when not printed). */
export interface AllocatorFields {
  device_index?: number;
  requested_bytes?: number;
  total_bytes?: number;
  free_bytes?: number;
  allocated_bytes?: number;
  reserved_bytes?: number;
  reserved_unallocated_bytes?: number;
  process_in_use_bytes?: number;
  allowed_bytes?: number;
  /** Bytes held by PyTorch's private pools (CUDA Graphs), already included in allocated_bytes. */
  private_pool_bytes?: number;
  /** Other processes on the device, from the 2.x NVML part (`Process N has X memory in use`). */
  other_processes?: Array<{ pid: number; bytes: number }>;
  /** PyTorch message format of an allocator OOM: `1.0` (cached), `1.4`, `1.10`, `2.1`, `2.2`, `2.x`, `mps`. */
  format?: string;
  /** Compact index just past the last clause read (where the message ends). */
  end: number;
}

// A size in compact text: "192.00MiB", "0bytes". `(?![a-z])` stops "bytes" eating a following word.
const SZ = String.raw`(\d+(?:\.\d+)?)(bytes|KiB|MiB|GiB|TiB)`;
const SZ_MPS = String.raw`(\d+(?:\.\d+)?)(bytes|KiB|MiB|GiB|KB|MB|GB)`;

const CLAUSES = {
  requested: new RegExp(String.raw`Triedtoallocate${SZ}`),
  v1Device: /\((?:GPU|NPU|XPU|MLU|device)(\d+);/,
  v1Total: new RegExp(String.raw`${SZ}totalcapacity`),
  v1Allocated: new RegExp(String.raw`${SZ}alreadyallocated`),
  v1Free: new RegExp(String.raw`${SZ}free(?:;|\))`),
  v1Reserved: new RegExp(String.raw`${SZ}reservedintotalbyPyTorch`),
  v1Cached: new RegExp(String.raw`${SZ}cached`),
  allowed: new RegExp(String.raw`${SZ}allowed;`),
  v2Device: /(?:GPU|NPU|XPU|MLU|Device|device)(\d+)has/,
  v2Total: new RegExp(String.raw`hasatotalcapac(i?)tyof${SZ}`),
  v2Free: new RegExp(String.raw`ofwhich${SZ}isfree`),
  self: new RegExp(String.raw`Includingnon-PyTorchmemory,thisprocesshas${SZ}memoryinuse`),
  other: new RegExp(String.raw`Process(\d+)has${SZ}memoryinuse`, 'g'),
  v2Allocated: new RegExp(String.raw`Oftheallocatedmemory${SZ}isallocatedbyPyTorch`),
  privatePool: new RegExp(String.raw`with${SZ}allocatedinprivatepools`),
  v2Unallocated: new RegExp(String.raw`and${SZ}isreservedbyPyTorchbutunallocated`),
  mpsAllocated: new RegExp(String.raw`MPSallocated:${SZ_MPS}`),
  mpsAllowed: new RegExp(String.raw`maxallowed:${SZ_MPS}`),
  mpsRequested: new RegExp(String.raw`Triedtoallocate${SZ_MPS}`),
} as const;

interface Cursor {
  span: string;
  base: number;
  end: number;
}

/** Matches `re` in the span; records how far the message reaches; returns the match or null. */
function take(cur: Cursor, re: RegExp): RegExpExecArray | null {
  re.lastIndex = 0;
  const m = re.exec(cur.span);
  if (m) cur.end = Math.max(cur.end, cur.base + m.index + m[0].length);
  return m;
}

/** Bytes of the size captured at groups i (number) and i+1 (unit). */
function bytesAt(m: RegExpExecArray, i: number): number {
  return sizeToBytes(m[i], m[i + 1]);
}

/** Reads a CUDA/HIP/XPU/NPU allocator message; `span` is the compact text from the anchor to the next report. */
export function readAllocatorFields(span: string, base: number): AllocatorFields {
  const cur: Cursor = { span, base, end: base };
  const out: AllocatorFields = { end: base };
  const req = take(cur, CLAUSES.requested);
  if (req) out.requested_bytes = bytesAt(req, 1);
  if (CLAUSES.v1Device.test(span) || CLAUSES.v1Total.test(span)) readV1(cur, out);
  else readV2(cur, out);
  const allowed = take(cur, CLAUSES.allowed);
  if (allowed) out.allowed_bytes = bytesAt(allowed, 1);
  out.end = cur.end;
  return out;
}

// 1.x: `(GPU d; T total capacity; X already allocated; F free; [M allowed; ]R reserved in total by PyTorch)`
// or the oldest `… C cached)` where C = reserved − allocated.
function readV1(cur: Cursor, out: AllocatorFields): void {
  const dev = take(cur, CLAUSES.v1Device);
  if (dev) out.device_index = Number(dev[1]);
  const total = take(cur, CLAUSES.v1Total);
  if (total) out.total_bytes = bytesAt(total, 1);
  const alloc = take(cur, CLAUSES.v1Allocated);
  if (alloc) out.allocated_bytes = bytesAt(alloc, 1);
  const free = take(cur, CLAUSES.v1Free);
  if (free) out.free_bytes = bytesAt(free, 1);
  const reserved = take(cur, CLAUSES.v1Reserved);
  const cached = reserved ? null : take(cur, CLAUSES.v1Cached);
  out.format = cached ? '1.0' : /max_split_size_mb/.test(cur.span) ? '1.10' : '1.4';
  if (reserved) {
    out.reserved_bytes = bytesAt(reserved, 1);
    if (out.allocated_bytes !== undefined) {
      out.reserved_unallocated_bytes = Math.max(0, out.reserved_bytes - out.allocated_bytes);
    }
  } else if (cached) {
    out.reserved_unallocated_bytes = bytesAt(cached, 1);
    if (out.allocated_bytes !== undefined)
      out.reserved_bytes = out.allocated_bytes + out.reserved_unallocated_bytes;
  }
}

// 2.1+: `GPU d has a total capac(i)ty of T of which F is free. [NVML part][M allowed; ]Of the allocated memory
// X is allocated by PyTorch, [with Z allocated in private pools (e.g., CUDA Graphs), ]and Y is reserved by
// PyTorch but unallocated.` X already includes Z, so reserved = X + Y.
function readV2(cur: Cursor, out: AllocatorFields): void {
  const dev = take(cur, CLAUSES.v2Device);
  if (dev) out.device_index = Number(dev[1]);
  const total = take(cur, CLAUSES.v2Total);
  if (total) out.total_bytes = bytesAt(total, 2);
  const free = take(cur, CLAUSES.v2Free);
  if (free) out.free_bytes = bytesAt(free, 1);
  const self = take(cur, CLAUSES.self);
  if (self) out.process_in_use_bytes = bytesAt(self, 1);
  readOtherProcesses(cur, out);
  const alloc = take(cur, CLAUSES.v2Allocated);
  if (alloc) out.allocated_bytes = bytesAt(alloc, 1);
  const pool = take(cur, CLAUSES.privatePool);
  if (pool) out.private_pool_bytes = bytesAt(pool, 1);
  const unalloc = take(cur, CLAUSES.v2Unallocated);
  if (unalloc) {
    out.reserved_unallocated_bytes = bytesAt(unalloc, 1);
    if (out.allocated_bytes !== undefined)
      out.reserved_bytes = out.allocated_bytes + out.reserved_unallocated_bytes;
  }
  if (total && total[1] === '') out.format = '2.1';
  else if (pool || /expandable_segments/.test(cur.span)) out.format = '2.2';
  else if (total) out.format = /max_split_size_mb/.test(cur.span) ? '2.1' : '2.x';
}

function readOtherProcesses(cur: Cursor, out: AllocatorFields): void {
  const re = CLAUSES.other;
  re.lastIndex = 0;
  const others: Array<{ pid: number; bytes: number }> = [];
  for (let m = re.exec(cur.span); m; m = re.exec(cur.span)) {
    others.push({ pid: Number(m[1]), bytes: bytesAt(m, 2) });
    cur.end = Math.max(cur.end, cur.base + m.index + m[0].length);
  }
  if (others.length > 0) out.other_processes = others;
}

/**
 * Reads an MPS message: `MPS backend out of memory (MPS allocated: A, other allocations: O, max allowed: M).
 * Tried to allocate R …`.
 */
export function readMpsFields(span: string, base: number): AllocatorFields {
  const cur: Cursor = { span, base, end: base };
  const out: AllocatorFields = { end: base, format: 'mps' };
  const alloc = take(cur, CLAUSES.mpsAllocated);
  if (alloc) out.allocated_bytes = bytesAt(alloc, 1);
  const allowed = take(cur, CLAUSES.mpsAllowed);
  if (allowed) out.allowed_bytes = bytesAt(allowed, 1);
  const req = take(cur, CLAUSES.mpsRequested);
  if (req) out.requested_bytes = bytesAt(req, 1);
  out.end = cur.end;
  return out;
}
