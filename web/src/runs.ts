// /runs: the run's report, live. Polls GET /v1/run?after=N for new events and redraws the same charts in place
// (the drawing code is the report's own: src/report/draw.ts).
import Chart from 'chart.js/auto';
import { drawRunReport, REPORT_CSS } from '../../src/report/draw.ts';
import { summarizeRun, type EventLine } from '../../src/report/run-data.ts';
import { getJson, renderNav } from './nav.ts';
import './style.css';

/** How often the page asks for new events (ms). */
const POLL_MS = 1500;

interface RunChunk {
  name: string;
  events: EventLine[];
  next: number;
  plan: unknown;
  metrics: unknown;
  config_yaml: string;
}

const style = document.createElement('style');
style.textContent = REPORT_CSS.replace(/body\{[^}]*\}/, '');
document.head.append(style);
renderNav('/runs');
const app = document.getElementById('app') as HTMLElement;
app.innerHTML = '<p id="run-state" class="muted">loading…</p><div id="report"></div>';
const state = document.getElementById('run-state') as HTMLElement;
const root = document.getElementById('report') as HTMLElement;
const events: EventLine[] = [];
let next = 0;

async function poll(): Promise<void> {
  try {
    const chunk = await getJson<RunChunk>(`/v1/run?after=${next}`);
    if (chunk.next < next) {
      events.length = 0;
      next = 0;
      return poll();
    } // the run restarted from scratch
    events.push(...chunk.events);
    next = chunk.next;
    const model = summarizeRun({
      name: chunk.name,
      events,
      plan: chunk.plan,
      metrics: chunk.metrics,
      config_yaml: chunk.config_yaml,
    });
    drawRunReport(root, model, Chart);
    state.className = 'muted';
    state.textContent = `${events.length} events · updated ${new Date().toLocaleTimeString()}`;
    root.dataset.events = String(events.length);
    root.dataset.status = model.status;
  } catch (e) {
    state.textContent = (e as Error).message;
    state.className = 'error';
  }
  setTimeout(poll, POLL_MS);
}

void poll();
