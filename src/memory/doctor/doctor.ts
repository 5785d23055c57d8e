// One doctor run: parse the last OOM report, diagnose it, and pick fixes (config-based when a run
// config is given, general otherwise); plus the `--json` object with its fixed field order.
import { diagnose, type Diagnosis } from './diagnose.ts';
import { generalFixes, type DoctorFix } from './fixes.ts';
import { parseOomReport, type OomReport } from './parse.ts';
import type { MemoryPlan } from '../types.ts';

/** What `refit doctor` found: the report, its diagnosis and the fixes, best first. */
export interface DoctorResult {
  report: OomReport;
  diagnosis: Diagnosis;
  fixes: DoctorFix[];
  /** One line on what the config-based planning assumed or why it was not possible. */
  plan_note?: string;
  /** With a run config: the config as planned (the `refit plan --json` object of the same config, engine and card). */
  current?: MemoryPlan;
}

/** Options of a doctor run: `configFixes` turns a diagnosis into concrete config changes (needs the run config). */
export interface DoctorOptions {
  text: string;
  configFixes?: (
    report: OomReport,
    diagnosis: Diagnosis,
  ) => { fixes: DoctorFix[]; note?: string; current?: MemoryPlan };
}

/** Parses, diagnoses and suggests fixes for the last OOM report in `text`. */
export function runDoctor(opts: DoctorOptions): DoctorResult {
  const report = parseOomReport(opts.text);
  const diagnosis = diagnose(report);
  const planned = opts.configFixes?.(report, diagnosis);
  const current = planned?.current ? { current: planned.current } : {};
  if (diagnosis.cause === 'none') return { report, diagnosis, fixes: [], ...current };
  if (planned && report.kind !== 'host-oom')
    return { report, diagnosis, fixes: planned.fixes, plan_note: planned.note, ...current };
  return { report, diagnosis, fixes: generalFixes(report, diagnosis), ...current };
}

/** The engine a log comes from: `hf` when its traceback runs through transformers or DeepKE, else `refit`. */
export function engineFromLog(text: string): 'refit' | 'hf' {
  return /transformers[\\/]|deepke|modeling_bert\.py/i.test(text) ? 'hf' : 'refit';
}

// The byte fields of `--json`, in print order (absent when the message does not carry them).
const REPORT_FIELDS = [
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

// The fields of one fix in `--json`, in print order.
const FIX_FIELDS = [
  'title',
  'detail',
  'speed',
  'config',
  'deepke',
  'env',
  'predicted_peak_bytes',
  'predicted_examples_per_s',
  'fits',
] as const;

/**
 * The `refit doctor --json` object: kind, the byte fields present, diagnosis {cause, explanation}, current
 * (with -c), fixes.
 */
export function doctorJson(result: DoctorResult): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: result.report.kind };
  for (const key of REPORT_FIELDS) {
    const v = result.report[key];
    if (v !== undefined) out[key] = v;
  }
  out.diagnosis = { cause: result.diagnosis.cause, explanation: result.diagnosis.explanation };
  if (result.current) out.current = result.current;
  out.fixes = result.fixes.map((fix) => {
    const ordered: Record<string, unknown> = {};
    for (const key of FIX_FIELDS) if (fix[key] !== undefined) ordered[key] = fix[key];
    return ordered;
  });
  return out;
}
