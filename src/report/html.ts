// Builds the self-contained report.html: Chart.js, the drawing functions and the data inlined; no network at all.
// Pure string work (the Chart.js source is passed in).
import { DRAW_FUNCTIONS, REPORT_CSS } from './draw.ts';
import type { ReportModel } from './run-data.ts';

/** Makes text safe inside an inline <script> (a literal `</script` would end the element). */
function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/**
 * The drawing functions' source for inlining. `__name` is a no-op shim: tsx (esbuild keepNames) wraps nested
 * functions in __name(...) calls, which exist only inside its module scope.
 */
export function drawScriptSource(): string {
  return ['var __name = function (f) { return f; };', ...DRAW_FUNCTIONS.map((f) => f.toString())].join('\n');
}

/** Returns the complete report page for `model`; `chartJs` is the Chart.js UMD bundle's source. */
export function renderReportHtml(opts: { model: ReportModel; chartJs: string }): string {
  const data = JSON.stringify(opts.model)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  const title = opts.model.name.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string,
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="refit report">
<title>refit run: ${title}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<div id="report"></div>
<script>${scriptSafe(opts.chartJs)}</script>
<script id="report-data" type="application/json">${data}</script>
<script>
${scriptSafe(drawScriptSource())}
drawRunReport(document.getElementById('report'), JSON.parse(document.getElementById('report-data').textContent), Chart);
</script>
</body>
</html>
`;
}
