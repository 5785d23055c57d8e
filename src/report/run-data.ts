// The report's data model: turns a run folder's parsed parts (events, plan, metrics, config) into the
// series the charts draw. Pure (no I/O, no node: imports) so the browser pages use it too.

/** One parsed line of events.jsonl (`event` names its kind; other fields depend on it). */
export type EventLine = { event: string; [key: string]: unknown };

/** A metric block as metrics.json holds it (src/metrics MetricBlock; only what the report reads). */
export interface ReportMetricBlock {
  accuracy?: number;
  macro_f1?: number;
  micro_f1?: number;
  semeval_official_f1?: number;
  per_relation?: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  confusion?: { labels: string[]; matrix: number[][] };
}

/**
 * The plan figures the report draws (bytes); taken from plan.json wherever the training run's writer
 * (src/run/decide.ts) nests them.
 */
export interface ReportPlan {
  peak_allocated_bytes?: number;
  peak_reserved_bytes?: number;
  peak_device_bytes?: number;
  budget_bytes?: number;
  fits?: boolean;
  peak_phase?: string;
  breakdown: Record<string, number>;
  config?: Record<string, unknown>;
  /** plan.json's memory decision (micro-batch, precision, … and the reasons), when the run wrote one. */
  decision?: Record<string, unknown>;
}

/** Everything a report page shows; arrays in `steps` are aligned by index. */
export interface ReportModel {
  name: string;
  status: 'running' | 'finished' | 'failed' | 'interrupted';
  step: number;
  total_steps: number | null;
  device: 'cuda' | 'cpu' | null;
  steps: {
    step: number[];
    loss: number[];
    lr: number[];
    examples_per_s: number[];
    tokens_per_s: number[];
    mem_allocated: (number | null)[];
    mem_reserved: (number | null)[];
    rss: (number | null)[];
  };
  evals: Array<{
    epoch: number;
    split: string;
    accuracy: number | null;
    macro_f1: number | null;
    micro_f1: number | null;
    loss: number | null;
  }>;
  incidents: Array<{ event: string; step: number | null; text: string; memory_bytes: number | null }>;
  plan: ReportPlan | null;
  metrics: { valid?: ReportMetricBlock; test?: ReportMetricBlock };
  config_yaml: string;
}

/** The raw parts of a run folder, as read from disk or fetched from the server. */
export interface RunParts {
  name: string;
  events: EventLine[];
  plan: unknown;
  metrics: unknown;
  config_yaml: string;
  /** Lines of events.jsonl that were skipped as torn (see parseEvents), each as one line of text. */
  skipped?: string[];
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const first = (v: unknown) => String(v).split('\n')[0];
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Finds the memory plan inside plan.json: top level or under `plan`/`memory_plan`; null when there is none. */
export function extractPlan(raw: unknown): ReportPlan | null {
  if (!isObj(raw)) return null;
  const candidates = [raw, raw.plan, raw.memory_plan, raw.memory].filter(isObj);
  const found = candidates.find((c) => isObj(c.breakdown) || num(c.peak_device_bytes) !== null);
  if (!found) return null;
  const breakdown: Record<string, number> = {};
  if (isObj(found.breakdown)) {
    for (const [k, v] of Object.entries(found.breakdown)) if (num(v) !== null) breakdown[k] = v as number;
  }
  const budget = num(found.budget_bytes) ?? num(raw.budget_bytes);
  return {
    peak_allocated_bytes: num(found.peak_allocated_bytes) ?? undefined,
    peak_reserved_bytes: num(found.peak_reserved_bytes) ?? undefined,
    peak_device_bytes: num(found.peak_device_bytes) ?? undefined,
    budget_bytes: budget ?? undefined,
    fits: typeof found.fits === 'boolean' ? found.fits : undefined,
    peak_phase: typeof found.peak_phase === 'string' ? found.peak_phase : undefined,
    breakdown,
    config: isObj(found.config)
      ? found.config
      : isObj(raw.fit) && isObj(raw.fit.config)
        ? raw.fit.config
        : undefined,
    decision: isObj(raw.decision) ? raw.decision : undefined,
  };
}

function pushStep(m: ReportModel, e: EventLine): void {
  const mem = isObj(e.memory) ? e.memory : {};
  m.steps.step.push(num(e.step) ?? m.steps.step.length + 1);
  m.steps.loss.push(num(e.loss) ?? NaN);
  m.steps.lr.push(num(e.lr) ?? NaN);
  m.steps.examples_per_s.push(num(e.examples_per_s) ?? NaN);
  m.steps.tokens_per_s.push(num(e.tokens_per_s) ?? NaN);
  m.steps.mem_allocated.push(num(mem.max_memory_allocated));
  m.steps.mem_reserved.push(num(mem.max_memory_reserved));
  m.steps.rss.push(num(mem.peak_rss_bytes));
  if (mem.device === 'cuda' || mem.device === 'cpu') m.device = mem.device;
  m.step = Math.max(m.step, num(e.step) ?? 0);
}

function incidentText(e: EventLine): string {
  if (e.event === 'recovery' && e.action !== undefined) {
    return `${first(e.action)}: ${first(e.from)} → ${first(e.to)}${e.reason ? ` (${first(e.reason)})` : ''}`;
  }
  if (e.event === 'restart')
    return `resume from step ${first(e.resume_step ?? '?')}${e.reason ? `: ${first(e.reason)}` : ''}`;
  for (const k of ['message', 'reason', 'action']) if (typeof e[k] === 'string') return first(e[k]);
  return '';
}

/** Event kinds tied to one step of training: a later `resume`/`restart` from an earlier step supersedes them. */
const STEP_BOUND = new Set(['step', 'eval', 'checkpoint']);

/**
 * The step a `resume` (`--resume`, from_step) or `restart` (worker crash, resume_step) event continues from:
 * every step-bound event written before it with a later step was replayed after it, so it no longer counts.
 */
function resumedFrom(e: EventLine): number | null {
  if (e.event === 'resume') return num(e.from_step);
  if (e.event === 'restart') return num(e.resume_step);
  return null;
}

/**
 * Marks the events that still count: events.jsonl is append-only, so after a resume from step S the steps
 * (and their evals and checkpoints) above S that were written before it appear again after it; only the later
 * copies count. One rule for the report, the /runs page and GET /v1/run. O(n), walking backwards.
 */
export function liveMask(events: readonly EventLine[]): boolean[] {
  const keep = new Array<boolean>(events.length).fill(true);
  let cut = Infinity; // the lowest resume point seen after this event
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    const from = resumedFrom(e);
    if (from !== null) {
      cut = Math.min(cut, from);
      continue;
    }
    if (STEP_BOUND.has(e.event) && e.split !== 'test') {
      const step = num(e.step);
      if (step !== null && step > cut) keep[i] = false;
    }
  }
  return keep;
}

/** The events that still count (see liveMask), in file order. */
export function currentEvents(events: readonly EventLine[]): EventLine[] {
  const keep = liveMask(events);
  return events.filter((_, i) => keep[i]);
}

/** The events from index `after` on that still count: what GET /v1/run returns (`next` stays the line count). */
export function currentEventsAfter(events: readonly EventLine[], after: number): EventLine[] {
  const keep = liveMask(events);
  const out: EventLine[] = [];
  for (let i = Math.max(0, after); i < events.length; i++) if (keep[i]) out.push(events[i]);
  return out;
}

/** Builds the report model from a run's parts; tolerant of missing files and unknown event kinds. */
export function summarizeRun(parts: RunParts): ReportModel {
  const m: ReportModel = {
    name: parts.name,
    status: 'running',
    step: 0,
    total_steps: null,
    device: null,
    steps: {
      step: [],
      loss: [],
      lr: [],
      examples_per_s: [],
      tokens_per_s: [],
      mem_allocated: [],
      mem_reserved: [],
      rss: [],
    },
    evals: [],
    incidents: [],
    plan: extractPlan(parts.plan),
    metrics: {},
    config_yaml: parts.config_yaml,
  };
  for (const e of currentEvents(parts.events)) {
    if (e.event === 'step') pushStep(m, e);
    else if (e.event === 'eval') {
      m.evals.push({
        epoch: num(e.epoch) ?? m.evals.length + 1,
        split: String(e.split ?? 'valid'),
        accuracy: num(e.accuracy),
        macro_f1: num(e.macro_f1),
        micro_f1: num(e.micro_f1),
        loss: num(e.loss),
      });
    } else if (e.event === 'run_start') {
      m.status = 'running'; // a resumed run is running again after its earlier run_end
      m.total_steps = num(e.total_steps);
      if (!m.plan) m.plan = extractPlan(e.plan);
    } else if (e.event === 'run_end') {
      m.status =
        e.status === 'interrupted'
          ? 'interrupted'
          : e.status === 'failed' || e.ok === false || typeof e.error === 'string'
            ? 'failed'
            : 'finished';
      if (e.status === 'interrupted')
        m.incidents.push({
          event: 'interrupted',
          step: num(e.optimizer_steps),
          text: typeof e.message === 'string' ? first(e.message) : 'interrupted',
          memory_bytes: null,
        });
      else if (typeof e.error === 'string')
        m.incidents.push({
          event: 'failed',
          step: num(e.optimizer_steps),
          text: e.error.split('\n')[0],
          memory_bytes: null,
        });
    } else if (e.event === 'resume') {
      m.incidents.push({
        event: 'resume',
        step: num(e.from_step),
        text: `resumed from the step-${first(e.from_step)} checkpoint${e.changed ? ` (${first(e.changed)})` : ''}`,
        memory_bytes: null,
      });
    } else if (e.event === 'oom' || e.event === 'recovery' || e.event === 'restart') {
      const mem = isObj(e.memory) ? e.memory : {};
      const memory_bytes =
        num(mem.max_memory_reserved) ?? num(mem.max_memory_allocated) ?? num(mem.peak_rss_bytes);
      m.incidents.push({ event: e.event, step: num(e.step), text: incidentText(e), memory_bytes });
    }
  }
  for (const text of parts.skipped ?? [])
    m.incidents.push({ event: 'skipped', step: null, text, memory_bytes: null });
  if (isObj(parts.metrics)) {
    if (isObj(parts.metrics.valid)) m.metrics.valid = parts.metrics.valid as ReportMetricBlock;
    if (isObj(parts.metrics.test)) m.metrics.test = parts.metrics.test as ReportMetricBlock;
  }
  return m;
}

/**
 * Parses events.jsonl text. A torn line — an event whose write was cut short (a full disk, a killed process) — is
 * skipped and passed to `onTorn`; when a later event was appended onto it before the file was mended, that event
 * is kept. A torn last line without its newline is also a run still writing it. Other bad lines go to `onBad`.
 */
export function parseEvents(
  text: string,
  onBad?: (line: number, what: string) => void,
  onTorn?: (line: number, what: string) => void,
): EventLine[] {
  const out: EventLine[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const e = parseLine(line);
    if (e === undefined) {
      const last = i === lines.length - 1;
      if (!last && !line.trimStart().startsWith('{')) return onBad?.(i + 1, 'not valid JSON');
      const glued = gluedEvent(line);
      if (glued) out.push(glued);
      onTorn?.(
        i + 1,
        last
          ? 'a torn last line (no newline: still being written, or its write was cut short) was skipped'
          : `a torn event line was skipped${glued ? `; the ${glued.event} event written onto it was kept` : ''}`,
      );
    } else if (isObj(e) && typeof e.event === 'string') out.push(e as EventLine);
    else onBad?.(i + 1, 'not an event object (needs an "event" field)');
  });
  return out;
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}

/** The whole event that starts inside torn line `line` (appended onto it before it was ended), if there is one. */
function gluedEvent(line: string): EventLine | null {
  for (let at = line.indexOf('{"event":', 1); at > 0; at = line.indexOf('{"event":', at + 1)) {
    const e = parseLine(line.slice(at));
    if (isObj(e) && typeof e.event === 'string') return e as EventLine;
  }
  return null;
}
