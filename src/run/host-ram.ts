// The host's available RAM, what a run on CPU (or what offload keeps on the host) is checked against.
import { readFileSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';

/** Available host RAM: MemAvailable from /proc/meminfo (page cache counts as free), else os.freemem(). */
export function availableRam(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Math.min(Number(m[1]) * 1024, totalmem());
  } catch {
    /* not Linux */
  }
  return freemem();
}
