// Stage 5 of a training run: the best checkpoint restored and scored (run/finish.ts writes model/ and
// metrics.json), then run_end `ok`. Exporting model.onnx is the command's, after runTraining returns.
import { runHead } from '../prepare-ner.ts';
import { rnnSpec } from '../deepke-lm.ts';
import { finishRun } from '../finish.ts';
import type { DecidedRun, TrainResult } from './context.ts';
import { endEvent } from './run-end.ts';

/** Scores the best model, writes model/ and metrics.json, and records the run's end (see the file's header). */
export async function finish(run: DecidedRun): Promise<TrainResult> {
  const { opts, inputs, sup, state, stop } = run;
  stop.check('finishing', state.step);
  const metrics = await finishRun({
    sup,
    state,
    run_dir: opts.out,
    valid: inputs.valid,
    test: inputs.test,
    relations: inputs.splits.relations,
    semeval: inputs.splits.format === 'semeval',
    text: inputs.text,
    head: runHead(inputs.config),
    max_seq_len: sup.levers.max_seq_len,
    padding: run.decision.padding,
    emit: run.emit,
    rnn: rnnSpec(inputs.config),
    input: inputs.lm?.info,
    test_untyped: inputs.test_untyped,
    ner: inputs.ner && { tags: inputs.ner.tags, tokens: inputs.ner.joiner === '' ? 'chars' : 'words' },
    stop,
  });
  run.emit(endEvent(run, 'ok', { best_epoch: state.best?.epoch }));
  return { run_dir: opts.out, metrics, plan: run.plan };
}
