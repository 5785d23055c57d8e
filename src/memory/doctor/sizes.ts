// Sizes as PyTorch prints them in OOM messages ("192.00 MiB", "0 bytes") ↔ integer bytes.
// Binary units only (GiB = 2^30); pure functions, no I/O.

const UNIT_BYTES: Readonly<Record<string, bigint>> = Object.freeze({
  bytes: 1n,
  B: 1n,
  KiB: 1n << 10n,
  MiB: 1n << 20n,
  GiB: 1n << 30n,
  TiB: 1n << 40n,
  // The MPS allocator labels binary sizes "KB/MB/GB" (its format_size divides by 1024).
  KB: 1n << 10n,
  MB: 1n << 20n,
  GB: 1n << 30n,
  TB: 1n << 40n,
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
