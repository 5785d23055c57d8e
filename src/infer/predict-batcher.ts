// The one queue of the predict path, between the HTTP route or `refit predict` and the engine: requests that arrive
// within a few ms of each other, or while the engine is busy, go to it together (one call in flight at a time).
// Fair under mixed load: one engine call carries at most max_items items and max_chars characters of text; a larger
// request goes in parts, one call each, and with parts left waits behind the requests that came meanwhile (round
// robin), so one client sending hundreds of long items delays a one-sentence request by about one call, not by all.
// The engine encodes only the items of the call it gets, so no call holds the event loop for long either.
import type { PredictItem, Prediction } from './predict-item.ts';

/** What one engine call answers with: top_k and na_threshold (left out: the run's own). */
export interface PredictOptions {
  top_k?: number;
  na_threshold?: number;
}

/** How long an idle batcher waits for more requests before calling the engine (ms). */
export const BATCH_WINDOW_MS = 2;
/** The most items one engine call carries (a larger request goes in parts). */
export const MAX_BATCH_ITEMS = 64;
/**
 * The most characters of text one engine call carries (one item always goes, however long): what bounds the time
 * of one call, since encoding and scoring grow with the text (up to max_seq_len tokens per item).
 */
export const MAX_BATCH_CHARS = 8192;

interface Pending {
  items: PredictItem[];
  /** Items of `items` already given to the engine (in earlier parts). */
  sent: number;
  /** Results of the parts answered so far, in item order. */
  results: Prediction[];
  o: PredictOptions;
  resolve: (r: Prediction[]) => void;
  reject: (e: unknown) => void;
}

/** One part of one request in an engine call: items [from, from + count) of `p`. */
interface Part {
  p: Pending;
  from: number;
  count: number;
}

/** Collects requests and runs them through `predict` in batches; each caller gets its own results, ids from 0. */
export class PredictBatcher {
  private readonly queue: Pending[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  /** Engine calls made so far and items they carried (for /v1/health and the load benchmark). */
  readonly stats = { calls: 0, items: 0 };

  constructor(
    private readonly opts: {
      predict: (items: PredictItem[], o: PredictOptions) => Promise<Prediction[]>;
      window_ms?: number;
      max_items?: number;
      max_chars?: number;
    },
  ) {}

  /** Queues `items` and resolves with their results in order (ids renumbered from 0 for this caller). */
  submit(items: PredictItem[], o: PredictOptions = {}): Promise<Prediction[]> {
    if (!items.length) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ items, sent: 0, results: [], o, resolve, reject });
      if (!this.running && !this.timer)
        this.timer = setTimeout(() => this.flush(), this.opts.window_ms ?? BATCH_WINDOW_MS);
    });
  }

  /** Requests waiting for the engine. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * The parts of the next engine call. Requests that fit one call whole go together in queue order while they fit
   * (same options only: one call answers with one top_k and one na_threshold). A request too large for one call goes
   * in parts, each part a call of its own (its long rows would pad a light request's batch to their length), and
   * with items left it goes back to the queue when its part is answered, behind the requests that came meanwhile.
   */
  private take(): Part[] {
    const maxItems = this.opts.max_items ?? MAX_BATCH_ITEMS;
    const maxChars = this.opts.max_chars ?? MAX_BATCH_CHARS;
    const first = this.queue[0];
    if (first.sent > 0 || !fitsWhole(first.items, maxItems, maxChars)) {
      let count = 0;
      let chars = 0;
      for (const it of first.items.slice(first.sent, first.sent + maxItems)) {
        if (count > 0 && chars + it.text.length > maxChars) break;
        chars += it.text.length;
        count++;
      }
      this.queue.shift();
      const part = { p: first, from: first.sent, count };
      first.sent += count;
      return [part];
    }
    const { top_k, na_threshold } = first.o;
    const parts: Part[] = [];
    let n = 0;
    let chars = 0;
    while (this.queue.length) {
      const p = this.queue[0];
      if (p.o.top_k !== top_k || p.o.na_threshold !== na_threshold || p.sent > 0) break;
      const len = textLength(p.items);
      if (n + p.items.length > maxItems || (n > 0 && chars + len > maxChars)) break;
      this.queue.shift();
      parts.push({ p, from: 0, count: p.items.length });
      p.sent = p.items.length;
      n += p.items.length;
      chars += len;
    }
    return parts;
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    if (this.running || !this.queue.length) return;
    this.running = true;
    const parts = this.take();
    const all = parts.flatMap(({ p, from, count }) => p.items.slice(from, from + count));
    try {
      this.stats.calls++;
      this.stats.items += all.length;
      const results = await this.opts.predict(all, parts[0].p.o);
      let at = 0;
      for (const { p, from, count } of parts) {
        for (let i = 0; i < count; i++) p.results[from + i] = { ...results[at + i], id: from + i };
        at += count;
        if (p.sent === p.items.length) p.resolve(p.results);
        // Parts left: behind every request that came during this call.
        else this.queue.push(p);
      }
    } catch (e) {
      for (const { p } of parts) p.reject(e); // a request with parts left: they are not sent
    } finally {
      this.running = false;
      // What arrived while the worker was busy waits one more window too: the callers just answered are sending
      // their next requests now, and joining them makes one larger call instead of two half-size calls alternating.
      if (this.queue.length && !this.timer)
        this.timer = setTimeout(() => this.flush(), this.opts.window_ms ?? BATCH_WINDOW_MS);
    }
  }
}

/** Characters of text in `items`. */
function textLength(items: PredictItem[]): number {
  let chars = 0;
  for (const it of items) chars += it.text.length;
  return chars;
}

/** True when `items` fit one engine call (one item always does). */
function fitsWhole(items: PredictItem[], maxItems: number, maxChars: number): boolean {
  return items.length === 1 || (items.length <= maxItems && textLength(items) <= maxChars);
}
