// The OOM doctor's surface: read an OOM report from any log text, diagnose it, and suggest fixes
// (general ones from the message alone, or concrete config changes with their predicted peaks).
export { parseOomReport, findOomReports, type OomReport, type OomKind } from './parse.ts';
export { diagnose, oomFigures, type Diagnosis, type OomCause, type OomFigures } from './diagnose.ts';
export { generalFixes, causeFixes, type DoctorFix } from './fixes.ts';
export { sizeToBytes } from './sizes.ts';
export { runDoctor, doctorJson, engineFromLog, type DoctorResult, type DoctorOptions } from './doctor.ts';
export { formatDoctorText } from './format.ts';
export { configFixesFor, type ConfigFixOptions } from './config-fixes.ts';
