// Shared formatting for the progress reporters (numbers and bytes for a terminal line).
import type { MemoryStats } from '../../worker/protocol.ts';
import { formatBytes } from '../../bytes.ts';

/** Bytes for a terminal line: one decimal, '-' when unknown. */
export function fmtBytes(bytes: number | undefined): string {
  return formatBytes(bytes, { digits: 1, missing: '-' });
}

/** The memory figure that matters on this device: CUDA max reserved, or CPU peak RSS. */
export function memoryFigure(m: MemoryStats | undefined): string {
  if (!m) return '-';
  return m.device === 'cuda'
    ? `${fmtBytes(m.max_memory_reserved)} reserved`
    : `${fmtBytes(m.peak_rss_bytes)} rss`;
}
