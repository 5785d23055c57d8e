// The report folder's surface: report.html writing, the run-folder reader and the report data model
// (src/report/reporters/ is the training pipeline's and is exported from there, not here).
export { writeReport, chartJsSource } from './write.ts';
export { readRunParts, checkRunFolder, readRunSideFiles, EventsTail } from './read-run.ts';
export { renderReportHtml, drawScriptSource } from './html.ts';
export {
  summarizeRun,
  parseEvents,
  extractPlan,
  currentEvents,
  currentEventsAfter,
  liveMask,
} from './run-data.ts';
export type { ReportModel, ReportPlan, ReportMetricBlock, EventLine, RunParts } from './run-data.ts';
export { drawRunReport, REPORT_CSS } from './draw.ts';
