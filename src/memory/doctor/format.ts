// The readable text of a doctor run: what was found (a small table), the diagnosis, the fixes.
// Formatting only; no decisions are made here.
import type { DoctorResult } from './doctor.ts';
import { formatBytes } from '../../bytes.ts';

const ROWS: ReadonlyArray<[keyof DoctorResult['report'], string]> = [
  ['requested_bytes', 'tried to allocate'],
  ['total_bytes', 'device total'],
  ['free_bytes', 'device free'],
  ['allowed_bytes', 'allowed (cap)'],
  ['process_in_use_bytes', 'this process uses'],
  ['reserved_bytes', 'reserved by PyTorch'],
  ['allocated_bytes', '  allocated'],
  ['reserved_unallocated_bytes', '  reserved, unallocated'],
];

// The PyTorch versions that print each message format (memory-model.md §3.1).
const FORMAT_NAMES: Readonly<Record<string, string>> = Object.freeze({
  '1.0': 'PyTorch 1.0–1.3',
  '1.4': 'PyTorch 1.4–1.9',
  '1.10': 'PyTorch 1.10–2.0',
  '2.1': 'PyTorch 2.1',
  '2.2': 'PyTorch 2.2 or later',
  '2.x': 'PyTorch 2.1 or later',
  mps: 'PyTorch MPS',
});

/** Wraps `text` at `width` columns with `indent` in front of every line. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines.join('\n');
}

/** Renders a doctor result for a terminal `width` columns wide. */
export function formatDoctorText(result: DoctorResult, width = 100): string {
  const { report, diagnosis, fixes } = result;
  if (report.kind === 'not-oom') return `not-oom: ${diagnosis.explanation}\n`;
  const out: string[] = [];
  const where =
    (report.device_index !== undefined ? ` on GPU ${report.device_index}` : '') +
    (report.rank !== undefined ? ` on rank ${report.rank}` : '');
  const format = report.format ? `, ${FORMAT_NAMES[report.format] ?? report.format} message format` : '';
  out.push(`${report.kind} (${report.source ?? '?'}${format})${where}`);
  if (report.message) out.push(wrap(`“${report.message}”`, width, '  '));
  if (report.rank_note) out.push(wrap(report.rank_note, width, '  '));
  for (const [key, label] of ROWS) {
    const v = report[key];
    if (typeof v === 'number') out.push(`  ${label.padEnd(26)} ${formatBytes(v).padStart(12)}   ${v} bytes`);
  }
  for (const p of report.other_processes ?? []) {
    out.push(`  ${`process ${p.pid}`.padEnd(26)} ${formatBytes(p.bytes).padStart(12)}   ${p.bytes} bytes`);
  }
  out.push('', `cause: ${diagnosis.cause}`, wrap(diagnosis.explanation, width, '  '));
  if (result.plan_note) out.push(wrap(result.plan_note, width, '  '));
  const deepke = fixes.some((f) => f.deepke);
  if (fixes.length > 0)
    out.push(
      '',
      `fixes (the fix for the cause first, then ` +
        `${deepke ? 'refit settings fastest first, then DeepKE overrides' : 'fastest first'}):`,
    );
  fixes.forEach((fix, i) => {
    const peak =
      fix.predicted_peak_bytes !== undefined
        ? `, predicted peak ${formatBytes(fix.predicted_peak_bytes)}`
        : '';
    const speed =
      fix.predicted_examples_per_s !== undefined
        ? `, ~${fix.predicted_examples_per_s.toFixed(0)} examples/s`
        : '';
    out.push(`  ${i + 1}. ${fix.title} [${fix.speed}${peak}${speed}]`);
    const sets = [
      ...Object.entries(fix.config ?? {}).map(([k, v]) => `${k}=${v}`),
      ...Object.entries(fix.env ?? {}).map(([k, v]) => `${k}=${v}`),
    ];
    if (sets.length > 0) out.push(`     set ${sets.join(' ')}`);
    const overrides = Object.entries(fix.deepke ?? {}).map(([k, v]) => `${k}=${v}`);
    if (overrides.length > 0)
      out.push(`     DeepKE: python ${fix.deepke_script ?? 'run.py'} ${overrides.join(' ')}`);
    out.push(wrap(fix.detail, width, '     '));
  });
  return out.join('\n') + '\n';
}
