// Draws a run report (charts + tables) into a DOM element; used by report.html and by the live /runs page.
// report.html inlines these functions' source (Function.prototype.toString), so each function here may call only
// the others in DRAW_FUNCTIONS by name (formatBytes, self-contained, is one of them) and must not use other imports or
// module-level values at runtime.
import type { ReportModel } from './run-data.ts';
import { formatBytes } from '../bytes.ts';

type Helpers = ReturnType<typeof rrHelpers>;

/** Formatting helpers shared by the drawing functions (kept in a function so its source can be inlined). */
export function rrHelpers(root: HTMLElement) {
  const COLORS = [
    '#2563eb',
    '#dc2626',
    '#16a34a',
    '#d97706',
    '#7c3aed',
    '#0891b2',
    '#db2777',
    '#65a30d',
    '#475569',
  ];
  const esc = (s: unknown) =>
    String(s).replace(
      /[&<>"]/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string,
    );
  const fmtBytes = (b: number | null | undefined) => formatBytes(b);
  const fmt = (v: number | null | undefined, d = 4) =>
    v === null || v === undefined || !Number.isFinite(v) ? '–' : Number(v).toFixed(d);
  const section = (id: string, title: string, body: string) =>
    `<section id="${id}"><h2>${title}</h2>${body}</section>`;
  const canvas = (id: string) => `<div class="chart"><canvas id="${id}"></canvas></div>`;
  const $ = (id: string) => root.querySelector('#' + id) as HTMLElement;
  // Long runs: at most ~1500 points per series, each the mean (or, for memory, the max) of its bucket of steps.
  const thin = (pts: Array<{ x: number; y: number }>, peak: boolean) => {
    const k = Math.ceil(pts.length / 1500);
    if (k <= 1) return pts;
    const out: Array<{ x: number; y: number }> = [];
    for (let i = 0; i < pts.length; i += k) {
      const b = pts.slice(i, i + k);
      out.push({
        x: b[b.length - 1].x,
        y: peak ? Math.max(...b.map((p) => p.y)) : b.reduce((a, p) => a + p.y, 0) / b.length,
      });
    }
    return out;
  };
  return { COLORS, esc, fmtBytes, fmt, section, canvas, thin, $ };
}

/**
 * Renders `model` into `root` with the Chart.js constructor `Chart`; calling it again with a newer model updates
 * the same charts in place (no flicker), which is how the live /runs page refreshes.
 */
export function drawRunReport(root: HTMLElement, model: ReportModel, Chart: any): void {
  const h = rrHelpers(root);
  const { section, canvas } = h;
  if (!root.querySelector('#rr-summary')) {
    root.innerHTML =
      `<header><h1 id="rr-title"></h1><div id="rr-status"></div><div class="bar"><div ` +
      `id="rr-progress"></div></div></header>` +
      `<div id="rr-summary" class="cards"></div>` +
      `<div class="grid">${section('rr-loss', 'Training loss', canvas('rr-loss-chart'))}` +
      section('rr-valid', 'Validation metrics', canvas('rr-valid-chart')) +
      section('rr-speed', 'Throughput', canvas('rr-speed-chart')) +
      section('rr-memory', 'Memory per step (measured) vs plan', canvas('rr-memory-chart')) +
      section('rr-plan', 'Planned memory breakdown', canvas('rr-plan-chart')) +
      `</div>` +
      section('rr-decision', 'Memory decision', '<div id="rr-decision-text"></div>') +
      section('rr-incidents', 'OOM / recovery / failure', '<ul id="rr-incident-list"></ul>') +
      section('rr-relations', 'Per relation', '<div id="rr-relation-table"></div>') +
      section('rr-confusion', 'Confusion matrix', '<div id="rr-confusion-table"></div>') +
      section('rr-config', 'Resolved config', '<pre id="rr-config-text"></pre>');
  }
  rrHeader(h, model);
  rrCharts(h, model, Chart);
  rrTables(h, model);
}

/** Title, status, progress bar and summary cards. */
export function rrHeader(h: Helpers, model: ReportModel): void {
  const { esc, fmt, fmtBytes, $ } = h;
  $('rr-title').textContent = `refit run: ${model.name}`;
  $('rr-status').innerHTML =
    `<span class="badge ${model.status}">${model.status}</span> step ${model.step}` +
    (model.total_steps ? ` / ${model.total_steps}` : '') +
    (model.device ? ` · ${model.device}` : '');
  $('rr-progress').style.width = model.total_steps
    ? `${Math.min(100, (100 * model.step) / model.total_steps)}%`
    : '0%';
  const s = model.steps;
  const lastLoss = s.loss.length ? s.loss[s.loss.length - 1] : null;
  const bestF1 = model.evals
    .filter((e) => e.split === 'valid' && e.macro_f1 !== null)
    .reduce((a, e) => Math.max(a, e.macro_f1 as number), -1);
  const measured = [...s.mem_reserved, ...s.mem_allocated].filter((v): v is number => v !== null);
  const peakMeasured = measured.length
    ? Math.max(...measured)
    : s.rss.filter((v): v is number => v !== null).reduce((a, v) => Math.max(a, v), -1);
  const plan = model.plan;
  const cards: Array<[string, string]> = [
    ['steps', String(s.step.length)],
    ['last loss', fmt(lastLoss)],
    ['best valid macro-F1', bestF1 >= 0 ? fmt(bestF1) : '–'],
    [
      model.device === 'cpu' ? 'peak RSS (CPU)' : 'peak measured',
      peakMeasured >= 0 ? fmtBytes(peakMeasured) : '–',
    ],
    // On CPU the plan is what the same run would take on a GPU: say so rather than compare it with RSS.
    [
      model.device === 'cpu' ? 'predicted GPU peak' : 'predicted peak',
      fmtBytes(plan?.peak_device_bytes ?? plan?.peak_reserved_bytes),
    ],
    ['budget', fmtBytes(plan?.budget_bytes)],
  ];
  if (model.metrics.test?.macro_f1 !== undefined)
    cards.push(['test macro-F1', fmt(model.metrics.test.macro_f1)]);
  $('rr-summary').innerHTML = cards
    .map(([k, v]) => `<div class="card"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div></div>`)
    .join('');
}

/** Loss, validation, throughput, memory timeline and plan breakdown charts (updated in place when they exist). */
export function rrCharts(h: Helpers, model: ReportModel, Chart: any): void {
  const { COLORS, fmtBytes, thin, $ } = h;
  const s = model.steps;
  const plan = model.plan;
  const draw = (id: string, config: any) => {
    const el = $(id) as HTMLCanvasElement;
    const existing = Chart.getChart(el);
    if (existing) {
      existing.data = config.data;
      existing.update('none');
      return;
    }
    config.options = Object.assign(
      { animation: false, responsive: true, maintainAspectRatio: false },
      config.options || {},
    );
    new Chart(el, config);
  };
  const xy = (ys: (number | null)[], peak = false) =>
    thin(
      s.step.map((x, i) => ({ x, y: ys[i] as number })).filter((p) => p.y !== null && Number.isFinite(p.y)),
      peak,
    );
  const line = (label: string, data: unknown[], color: string, extra: object = {}) =>
    Object.assign(
      {
        label,
        data,
        borderColor: color,
        backgroundColor: color,
        pointRadius: 0,
        borderWidth: 1.5,
        showLine: true,
      },
      extra,
    );
  const linX = { type: 'linear', title: { display: true, text: 'step' } };
  draw('rr-loss-chart', {
    type: 'scatter',
    data: { datasets: [line('loss', xy(s.loss), COLORS[0])] },
    options: { scales: { x: linX } },
  });
  const ev = model.evals.filter((e) => e.split === 'valid');
  draw('rr-valid-chart', {
    type: 'line',
    data: {
      labels: ev.map((e) => `epoch ${e.epoch}`),
      datasets: [
        line(
          'macro-F1',
          ev.map((e) => e.macro_f1),
          COLORS[0],
          { pointRadius: 3 },
        ),
        line(
          'micro-F1',
          ev.map((e) => e.micro_f1),
          COLORS[1],
          { pointRadius: 3 },
        ),
        line(
          'accuracy',
          ev.map((e) => e.accuracy),
          COLORS[2],
          { pointRadius: 3 },
        ),
      ],
    },
    options: { scales: { y: { min: 0, max: 1 } } },
  });
  draw('rr-speed-chart', {
    type: 'scatter',
    data: {
      datasets: [
        line('examples/s', xy(s.examples_per_s), COLORS[0], { yAxisID: 'y' }),
        line('tokens/s', xy(s.tokens_per_s), COLORS[3], { yAxisID: 'y1' }),
      ],
    },
    options: {
      scales: {
        x: linX,
        y: { position: 'left', title: { display: true, text: 'examples/s' } },
        y1: {
          position: 'right',
          grid: { drawOnChartArea: false },
          title: { display: true, text: 'tokens/s' },
        },
      },
    },
  });
  const first = s.step.length ? s.step[0] : 0;
  const last = s.step.length ? s.step[s.step.length - 1] : 1;
  const flat = (v: number | undefined) =>
    v === undefined
      ? []
      : [
          { x: first, y: v },
          { x: last, y: v },
        ];
  const memSets = [
    line('allocated (peak, measured)', xy(s.mem_allocated, true), COLORS[0]),
    line('reserved (peak, measured)', xy(s.mem_reserved, true), COLORS[4]),
    line('RSS (CPU, measured)', xy(s.rss, true), COLORS[5]),
    line(
      model.device === 'cpu' ? 'predicted GPU peak (not RSS)' : 'predicted peak',
      flat(plan?.peak_device_bytes ?? plan?.peak_reserved_bytes),
      COLORS[3],
      { borderDash: [6, 4] },
    ),
    line('budget', flat(plan?.budget_bytes), COLORS[1], { borderDash: [2, 3], borderWidth: 2 }),
    line(
      'OOM',
      model.incidents
        .filter((i) => i.event === 'oom' && i.step !== null)
        .map((i) => ({ x: i.step, y: i.memory_bytes ?? plan?.budget_bytes ?? 0 })),
      COLORS[1],
      { showLine: false, pointRadius: 7, pointStyle: 'crossRot', borderWidth: 2 },
    ),
  ].filter((d) => (d.data as unknown[]).length);
  draw('rr-memory-chart', {
    type: 'scatter',
    data: { datasets: memSets },
    options: {
      scales: { x: linX, y: { beginAtZero: true, ticks: { callback: (v: number) => fmtBytes(v) } } },
    },
  });
  const parts = Object.entries(plan?.breakdown ?? {}).filter(([, v]) => v > 0);
  const budget = plan?.budget_bytes;
  draw('rr-plan-chart', {
    type: 'bar',
    data: {
      labels: budget ? ['predicted', 'budget'] : ['predicted'],
      datasets: [
        ...parts.map(([k, v], i) => ({
          label: k,
          data: [v, null],
          backgroundColor: COLORS[i % COLORS.length],
          stack: 'm',
        })),
        ...(budget
          ? [{ label: 'budget', data: [null, budget], backgroundColor: '#94a3b8', stack: 'm' }]
          : []),
      ],
    },
    options: {
      indexAxis: 'y',
      scales: { x: { stacked: true, ticks: { callback: (v: number) => fmtBytes(v) } }, y: { stacked: true } },
      plugins: { tooltip: { callbacks: { label: (c: any) => `${c.dataset.label}: ${fmtBytes(c.raw)}` } } },
    },
  });
}

/** Incidents, per-relation table, confusion heatmap and the resolved config. */
export function rrTables(h: Helpers, model: ReportModel): void {
  const { esc, fmt, $ } = h;
  const d = model.plan?.decision;
  const reasons = d && Array.isArray(d.reasons) ? (d.reasons as unknown[]) : [];
  $('rr-decision-text').innerHTML = d
    ? '<div style="overflow:auto"><table><tr>' +
      Object.keys(d)
        .filter((k) => k !== 'reasons' && typeof d[k] !== 'object')
        .map((k) => `<th>${esc(k)}</th>`)
        .join('') +
      '</tr><tr>' +
      Object.keys(d)
        .filter((k) => k !== 'reasons' && typeof d[k] !== 'object')
        .map((k) => `<td>${esc(d[k])}</td>`)
        .join('') +
      '</tr></table></div>' +
      `<ul>${reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>`
    : '<p>no decision in plan.json</p>';
  $('rr-incident-list').innerHTML = model.incidents.length
    ? model.incidents
        .map((i) => `<li><b>${esc(i.event)}</b> at step ${esc(i.step ?? '?')}: ${esc(i.text)}</li>`)
        .join('')
    : '<li>none</li>';
  const block = model.metrics.test ?? model.metrics.valid;
  const split = model.metrics.test ? 'test' : 'valid';
  const rel = block?.per_relation ?? {};
  $('rr-relation-table').innerHTML = Object.keys(rel).length
    ? `<table><caption>${split}</caption>` +
      '<tr><th>relation</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>' +
      Object.entries(rel)
        .map(
          ([k, r]) =>
            `<tr><td>${esc(k)}</td><td>${fmt(r.precision)}</td><td>${fmt(r.recall)}</td><td>` +
            `${fmt(r.f1)}</td><td>${r.support}</td></tr>`,
        )
        .join('') +
      '</table>'
    : '<p>no metrics yet</p>';
  const cm = block?.confusion;
  $('rr-confusion-table').innerHTML =
    cm && cm.labels.length
      ? `<table class="cm"><caption>${split}: rows gold, columns predicted</caption><tr><th></th>` +
        cm.labels.map((l) => `<th>${esc(l)}</th>`).join('') +
        '</tr>' +
        cm.matrix
          .map((row, i) => {
            const max = Math.max(1, ...row);
            return (
              `<tr><th>${esc(cm.labels[i])}</th>` +
              row
                .map((v) => `<td style="background:rgba(37,99,235,${(0.85 * v) / max})">${v}</td>`)
                .join('') +
              '</tr>'
            );
          })
          .join('') +
        '</table>'
      : '<p>no metrics yet</p>';
  $('rr-config-text').textContent = model.config_yaml || '(no config.yaml)';
}

/** The functions report.html inlines, callers first-defined last (order does not matter for function declarations). */
export const DRAW_FUNCTIONS = [formatBytes, rrHelpers, rrHeader, rrCharts, rrTables, drawRunReport] as const;

/** CSS for the report layout (shared by report.html and the /runs page). */
export const REPORT_CSS = [
  '',
  'body{font:14px system-ui,sans-serif;margin:0;padding:16px 24px;color:#0f172a;background:#f8fafc}',
  'h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:0 0 8px}',
  'section{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:12px;margin:12px 0}',
  '.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:0 12px}',
  '.chart{position:relative;height:260px}',
  '.cards{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}' +
    '.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:8px 12px;min-width:120px}',
  '.card .k{color:#64748b;font-size:12px}.card .v{font-size:18px;font-weight:600}',
  '.bar{height:6px;background:#e2e8f0;border-radius:3px;margin-top:8px}' +
    '.bar div{height:6px;background:#2563eb;border-radius:3px}',
  '.badge{padding:2px 8px;border-radius:10px;color:#fff;background:#d97706}' +
    '.badge.finished{background:#16a34a}.badge.failed{background:#dc2626}.badge.interrupted{background:#6b7280}',
  'table{border-collapse:collapse}td,th{border:1px solid #e2e8f0;padding:3px 8px;text-align:right}' +
    'th{background:#f1f5f9}',
  'caption{text-align:left;color:#64748b;padding:2px 0}table.cm td{min-width:28px;text-align:center}',
  'pre{background:#f1f5f9;padding:8px;overflow:auto;max-height:400px}',
  '',
].join('\n');
