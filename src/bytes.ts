// The one display of byte counts (memory is bytes everywhere else; only output formats it): the CLI, the doctor, the
// progress lines, report.html and the web planner all print through formatBytes. Pure and self-contained (report.html
// inlines its source, and the web pages import it).

/**
 * `bytes` in binary units the way PyTorch's `format_size` prints them: "512 bytes", "89.25 KiB", "11.75 GiB" (a unit
 * is used up to and including 1024 of it, and GiB has no upper bound, as in PyTorch). `digits` decimals
 * (default 2) above bytes; `missing`
 * (default "–") for null, undefined or a non-finite number.
 */
export function formatBytes(
  bytes: number | null | undefined,
  opts: { digits?: number; missing?: string } = {},
): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return opts.missing ?? '–';
  const digits = opts.digits ?? 2;
  const abs = Math.abs(bytes);
  if (abs <= 1024) return `${Math.round(bytes)} bytes`;
  if (abs <= 1024 ** 2) return `${(bytes / 1024).toFixed(digits)} KiB`;
  if (abs <= 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(digits)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(digits)} GiB`;
}
