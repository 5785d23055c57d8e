// Shared formatting for the progress reporters (numbers and bytes for a terminal line).
import type { MemoryStats } from '../../worker/protocol.ts';

/** Bytes as a short binary-unit string. */
export function fmtBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

/** The memory figure that matters on this device: CUDA max reserved, or CPU peak RSS. */
export function memoryFigure(m: MemoryStats | undefined): string {
  if (!m) return '-';
  return m.device === 'cuda' ? `${fmtBytes(m.max_memory_reserved)} reserved` : `${fmtBytes(m.peak_rss_bytes)} rss`;
}
