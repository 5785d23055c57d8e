// The one queue of the predict path, between the HTTP route or `refit predict` and the engine: requests that arrive
// within a few ms of each other, or while the engine is busy, go to it together (one call in flight at a time).
import type { PredictItem, Prediction } from './predict-item.ts';

/** What one engine call answers with: top_k and na_threshold (left out: the run's own). */
export interface PredictOptions {
  top_k?: number;
  na_threshold?: number;
}

/** How long an idle batcher waits for more requests before calling the engine (ms). */
export const BATCH_WINDOW_MS = 2;
/** The most items one engine call carries (a single larger request still goes whole). */
export const MAX_BATCH_ITEMS = 64;

interface Pending {
  items: PredictItem[];
  o: PredictOptions;
  resolve: (r: Prediction[]) => void;
  reject: (e: unknown) => void;
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
    },
  ) {}

  /** Queues `items` and resolves with their results in order (ids renumbered from 0 for this caller). */
  submit(items: PredictItem[], o: PredictOptions = {}): Promise<Prediction[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ items, o, resolve, reject });
      if (!this.running && !this.timer)
        this.timer = setTimeout(() => this.flush(), this.opts.window_ms ?? BATCH_WINDOW_MS);
    });
  }

  /** Requests waiting for the engine. */
  get waiting(): number {
    return this.queue.length;
  }

  private take(): Pending[] {
    const max = this.opts.max_items ?? MAX_BATCH_ITEMS;
    const { top_k, na_threshold } = this.queue[0].o;
    const batch: Pending[] = [this.queue.shift() as Pending];
    let n = batch[0].items.length;
    // Same options only: one engine call answers with one top_k and one na_threshold.
    const same = (o: PredictOptions) => o.top_k === top_k && o.na_threshold === na_threshold;
    while (this.queue.length && n + this.queue[0].items.length <= max && same(this.queue[0].o)) {
      const p = this.queue.shift() as Pending;
      n += p.items.length;
      batch.push(p);
    }
    return batch;
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    if (this.running || !this.queue.length) return;
    this.running = true;
    const batch = this.take();
    const all = batch.flatMap((p) => p.items);
    try {
      this.stats.calls++;
      this.stats.items += all.length;
      const results = await this.opts.predict(all, batch[0].o);
      let at = 0;
      for (const p of batch) {
        p.resolve(results.slice(at, at + p.items.length).map((r, i) => ({ ...r, id: i })));
        at += p.items.length;
      }
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.running = false;
      // What arrived while the worker was busy waits one more window too: the callers just answered are sending
      // their next requests now, and joining them makes one larger call instead of two half-size calls alternating.
      if (this.queue.length && !this.timer)
        this.timer = setTimeout(() => this.flush(), this.opts.window_ms ?? BATCH_WINDOW_MS);
    }
  }
}
