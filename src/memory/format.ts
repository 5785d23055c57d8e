// Display of byte counts (memory is bytes everywhere else; only output formats it).

/** `bytes` as binary units with two decimals, like PyTorch prints them (e.g. `21.01 GiB`). */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${Math.round(v)} bytes` : `${v.toFixed(2)} ${units[i]}`;
}
