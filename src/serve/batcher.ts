// Batches concurrent prediction requests into one Predictor call: requests that arrive within a few ms of each
// other, or while the worker is busy, go to the worker together (one process, one call in flight at a time).
import type { PredictItem, PredictResult } from './predictor.ts';

/** How long an idle batcher waits for more requests before calling the worker (ms). */
export const BATCH_WINDOW_MS = 2;
/** The most items one worker call carries. */
export const MAX_BATCH_ITEMS = 64;

interface Pending {
  items: PredictItem[];
  top_k?: number;
  resolve: (r: PredictResult[]) => void;
  reject: (e: unknown) => void;
}

/** Collects requests and runs them through `predict` in batches; each caller gets its own results, ids from 0. */
export class PredictBatcher {
  private readonly queue: Pending[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  /** Worker calls made so far and items they carried (for /v1/health and the load benchmark). */
  readonly stats = { calls: 0, items: 0 };

  constructor(
    private readonly opts: {
      predict: (items: PredictItem[], o: { top_k?: number }) => Promise<PredictResult[]>;
      window_ms?: number;
      max_items?: number;
    },
  ) {}

  /** Queues `items` and resolves with their results in order (ids renumbered from 0 for this caller). */
  submit(items: PredictItem[], top_k?: number): Promise<PredictResult[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ items, top_k, resolve, reject });
      if (!this.running && !this.timer)
        this.timer = setTimeout(() => this.flush(), this.opts.window_ms ?? BATCH_WINDOW_MS);
    });
  }

  /** Requests waiting for the worker. */
  get waiting(): number {
    return this.queue.length;
  }

  private take(): Pending[] {
    const max = this.opts.max_items ?? MAX_BATCH_ITEMS;
    const top_k = this.queue[0].top_k;
    const batch: Pending[] = [this.queue.shift() as Pending];
    let n = batch[0].items.length;
    // Same top_k only: one worker call answers with one top_k.
    while (this.queue.length && n + this.queue[0].items.length <= max && this.queue[0].top_k === top_k) {
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
      const results = await this.opts.predict(all, { top_k: batch[0].top_k });
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
