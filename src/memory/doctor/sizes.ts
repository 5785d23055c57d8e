// Sizes as PyTorch prints them in OOM messages ("192.00 MiB", "0 bytes") ↔ integer bytes.
// Binary units only (GiB = 2^30); pure functions, no I/O.

const UNIT_BYTES: Readonly<Record<string, bigint>> = Object.freeze({
  bytes: 1n, B: 1n,
  KiB: 1n << 10n, MiB: 1n << 20n, GiB: 1n << 30n, TiB: 1n << 40n,
  // The MPS allocator labels binary sizes "KB/MB/GB" (its format_size divides by 1024).
  KB: 1n << 10n, MB: 1n << 20n, GB: 1n << 30n, TB: 1n << 40n,
});

/** Converts a printed number and unit ("9.90", "GiB") to integer bytes, rounded to nearest (half up), exactly. */
export function sizeToBytes(num: string, unit: string): number {
  const mult = UNIT_BYTES[unit];
  if (mult === undefined) throw new Error(`unknown size unit ${unit}`);
  const m = /^(\d+)(?:\.(\d*))?$/.exec(num);
  if (!m) throw new Error(`bad size number ${num}`);
  const frac = m[2] ?? '';
  const scale = 10n ** BigInt(frac.length);
  const scaled = BigInt(m[1] + frac) * mult;
  // BigInt keeps 130206.04 GiB exact (beyond 2^53 before the division).
  return Number((scaled * 2n + scale) / (2n * scale));
}

const GIB = 2 ** 30;
const MIB = 2 ** 20;
const KIB = 2 ** 10;

/** Formats bytes the way PyTorch's format_size does ("89.25 MiB", "11.75 GiB", "512 bytes"). */
export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs <= 1024) return `${bytes} bytes`;
  if (abs <= MIB) return `${(bytes / KIB).toFixed(2)} KiB`;
  if (abs <= GIB) return `${(bytes / MIB).toFixed(2)} MiB`;
  return `${(bytes / GIB).toFixed(2)} GiB`;
}
