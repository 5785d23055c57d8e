// A loaded run model that predicts relations for sentences: one worker kept alive, concurrent calls coalesced
// into one evaluation. Used by `refit predict` and by the HTTP server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunLog } from '../log.ts';
import type { Example } from '../data/types.ts';
import { codePointToUtf16, utf16ToCodePoint } from '../offsets.ts';
import { encodeForHead, writeEncodedDataset } from '../encode/index.ts';
import { findPython } from '../worker/index.ts';
import type { SupervisedWorker } from '../worker/index.ts';
import { evalLogits, softmax } from '../session/index.ts';
import { modelSpec, readModelFolder, type LoadedModel } from '../session/index.ts';
import { CoalescingPredictor, type ScoredRow } from './coalescing-predictor.ts';
import { expect, inferenceLoad, setupWorker, startWorker } from '../session/index.ts';

/**
 * One sentence with two entity mentions. Offsets count code points (Python's `str.index`, as in data files) and
 * are optional: the first occurrence is used without them.
 */
export interface PredictItem {
  text: string;
  head: string;
  tail: string;
  head_offset?: number;
  tail_offset?: number;
  /**
   * Entity types, as DeepKE's predict.py asks for them: the deepke-lm head puts them into the text (without
   * them the mentions keep their text).
   */
  head_type?: string;
  tail_type?: string;
}

/** One answer, in input order; `error` instead of a relation when the item could not be encoded. */
export interface Prediction {
  id: number;
  head: string;
  tail: string;
  relation?: string;
  score?: number;
  top?: Array<{ relation: string; score: number }>;
  error?: string;
}

/** A loaded model ready to predict; `close` stops its worker. */
export interface Predictor {
  relations: string[];
  na_label: string | null;
  max_seq_len: number;
  model: Record<string, unknown>;
  predict(items: PredictItem[], opts?: { top_k?: number; na_threshold?: number }): Promise<Prediction[]>;
  close(): Promise<void>;
  /** Resolves at once when the worker dies or hangs (not on close), with why: the server restarts it then. */
  lost: Promise<Error>;
  /** The worker's process id. */
  pid: number | undefined;
  /**
   * Asks the idle worker for a cheap answer; one not given within `timeout_ms` means it hangs: it is killed
   * (and `lost` resolves).
   */
  ping(timeout_ms: number): Promise<void>;
}

/**
 * Finds a mention: at the given code-point offset (checked), else its first occurrence; an error line when it is
 * not there. The span returned indexes the JS string (UTF-16 units).
 */
export function locate(
  text: string,
  mention: string,
  offset: number | undefined,
  role: 'head' | 'tail',
): { start: number; end: number } | string {
  if (!mention) return `${role} is empty`;
  if (offset !== undefined) {
    const at = codePointToUtf16(text, offset);
    if (text.startsWith(mention, at)) return { start: at, end: at + mention.length };
    // A client that counted UTF-16 units (JavaScript, Java) lands here after an emoji or astral CJK character.
    const hint = text.startsWith(mention, offset)
      ? ` (offsets count code points, as Python's str.index: it is at ${utf16ToCodePoint(text, offset)})`
      : '';
    return `${role} '${mention}' is not at ${role}_offset ${offset}${hint}`;
  }
  const at = text.indexOf(mention);
  return at < 0 ? `${role} '${mention}' is not in the text` : { start: at, end: at + mention.length };
}

/** Turns an item into an Example, or an error line. */
export function itemExample(item: PredictItem, line: number): Example | string {
  if (typeof item.text !== 'string' || typeof item.head !== 'string' || typeof item.tail !== 'string')
    return 'needs string fields text, head and tail';
  const h = locate(item.text, item.head, item.head_offset, 'head');
  if (typeof h === 'string') return h;
  const t = locate(item.text, item.tail, item.tail_offset, 'tail');
  if (typeof t === 'string') return t;
  const typed = (type: unknown) => (typeof type === 'string' && type.trim() ? { type: type.trim() } : {});
  return {
    text: item.text,
    head: { text: item.head, ...h, ...typed(item.head_type) },
    tail: { text: item.tail, ...t, ...typed(item.tail_type) },
    file: '<predict>',
    line,
  };
}

/** Loads `<run_dir>/model` into a fresh worker (CPU fp32 unless CUDA is there) and returns a Predictor. */
export async function openPredictor(opts: {
  run_dir: string;
  env: Record<string, string | undefined>;
  log: RunLog;
  num_threads?: number;
}): Promise<Predictor> {
  const model = readModelFolder(opts.run_dir);
  const { python } = await findPython({ env: opts.env });
  const worker = await startWorker({ python, env: opts.env, log: opts.log, num_threads: opts.num_threads });
  const device = worker.ready.capabilities.cuda ? 'cuda' : 'cpu';
  try {
    const load = inferenceLoad(
      { ...modelSpec(model), num_threads: opts.num_threads },
      { device, attention: worker.ready.capabilities.sdpa ? 'sdpa' : 'eager' },
    );
    await setupWorker(worker, { load, datasets: [], restore_from: model.dir });
  } catch (e) {
    await worker.close().catch(() => undefined);
    throw e;
  }
  return new WorkerPredictor(model, worker, opts.log);
}

class WorkerPredictor extends CoalescingPredictor {
  private readonly tmp = mkdtempSync(join(tmpdir(), 'refit-predict-'));

  constructor(
    loaded: LoadedModel,
    private readonly worker: SupervisedWorker & {
      close(): Promise<void>;
      lost: Promise<Error>;
      pid: number | undefined;
    },
    private readonly log: RunLog,
  ) {
    super(loaded);
  }

  get lost(): Promise<Error> {
    return this.worker.lost;
  }

  get pid(): number | undefined {
    return this.worker.pid;
  }

  async ping(timeout_ms: number): Promise<void> {
    await this.worker.request({ type: 'memory' }, { timeout_ms });
  }

  protected async score(items: PredictItem[]): Promise<ScoredRow[]> {
    const out = items.map((item, i) => {
      const ex = itemExample(item, i + 1);
      if (typeof ex === 'string') return { item, error: ex };
      try {
        encodeForHead({
          tokenizer: this.loaded.text.tokenizer,
          example: ex,
          max_seq_len: this.max_seq_len,
          markers: this.loaded.text.markers,
          deepke_lm: this.loaded.text.deepke_lm,
        });
      } catch (e) {
        return { item, error: e instanceof Error ? e.message.split('\n')[0] : String(e) };
      }
      return { item, ex };
    });
    const good = out.filter((o): o is { item: PredictItem; ex: Example } => 'ex' in o);
    if (good.length === 0) return out;
    const ds = await writeEncodedDataset({
      examples: good.map((g) => g.ex),
      relations: this.loaded.relations,
      tokenizer: this.loaded.text.tokenizer,
      max_seq_len: this.max_seq_len,
      markers: this.loaded.text.markers,
      deepke_lm: this.loaded.text.deepke_lm,
      cache_dir: this.tmp,
    });
    try {
      await expect(this.worker, { type: 'open_dataset', name: 'predict', path: ds.path }, 'dataset_opened');
      const logits = await evalLogits(this.worker, {
        dataset: 'predict',
        lengths: ds.lengths,
        padding: 'dynamic',
        max_seq_len: this.max_seq_len,
        tag: 'predict',
      });
      good.forEach((g, i) => {
        (g as { probs?: number[] }).probs = softmax(logits[i]);
      });
    } finally {
      rmSync(ds.path, { force: true });
    }
    return out as ScoredRow[];
  }

  async close(): Promise<void> {
    await this.worker.close().catch((e) => this.log.write(`predictor close: ${String(e)}`));
    rmSync(this.tmp, { recursive: true, force: true });
  }
}
