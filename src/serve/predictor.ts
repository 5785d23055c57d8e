// The server's view of a trained relation model: the run's Predictor (openRunPredictor) kept alive by KeptModel
// (opened lazily, restarted when its worker is lost, reopened when its folder is replaced), with the names and
// shapes /v1/model shows. Entities are checked against the text before anything reaches the worker (model-view.ts).
import type { RunLog } from '../log.ts';
import { openRunPredictor, type Engine, type Predictor, type PredictItem } from '../infer/index.ts';
import { KeptModel } from './kept-model.ts';
import { shapeOnly, type ModelInfo, type PredictResult } from './model-view.ts';
import type { RestartPolicy } from './worker-policy.ts';

export * from './worker-policy.ts';

export type { Predictor, PredictItem };
export { entityProblem, type ModelInfo, type PredictResult } from './model-view.ts';

type RunPredictor = Awaited<ReturnType<typeof openRunPredictor>>;

/**
 * Opens the run's model on first use and keeps its worker alive. When the model folder is replaced (a training run
 * served live finishes, or is rerun), the next request opens the new one; when the worker is lost, it is restarted.
 */
export class LazyPredictor extends KeptModel<RunPredictor> {
  private info: ModelInfo | undefined;

  constructor(opts: {
    run_dir?: string;
    no_run?: string;
    env: Record<string, string | undefined>;
    log: RunLog;
    num_threads?: number;
    engine?: Engine;
    restart?: Partial<RestartPolicy>;
    worker_timeout_ms?: number;
    heartbeat_ms?: number;
    notify?: (line: string) => void;
  }) {
    super({
      ...opts,
      // onnx (in-process, no worker to lose) when the model folder has model.onnx, unless an engine was given.
      open: () =>
        openRunPredictor({
          run_dir: opts.run_dir as string,
          engine: opts.engine,
          env: opts.env,
          log: opts.log,
          num_threads: opts.num_threads,
        }),
    });
  }

  protected override opened(p: RunPredictor): void {
    this.info = {
      relations: p.relations,
      na_label: p.na_label,
      max_seq_len: p.max_seq_len,
      model: shapeOnly(p.model),
    };
  }

  /** The model's relations and shapes: from the worker last opened (kept while it restarts), else opened now. */
  async modelInfo(): Promise<ModelInfo> {
    if (this.info && this.state !== 'none') return this.info;
    await this.get();
    return this.info as ModelInfo;
  }

  /** Predicts on the current worker (KeptModel.call: its time limit, and 503 when it is lost meanwhile). */
  predict(items: PredictItem[], o: { top_k?: number }): Promise<PredictResult[]> {
    return this.call((p) => p.predict(items, o));
  }
}
