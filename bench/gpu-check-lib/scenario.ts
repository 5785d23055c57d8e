// Part (b), the motivating case (DeepKE issue #459): Chinese BERT-base, effective batch 32, every sequence 512
// tokens, a 12 GB card simulated by an 11.75 GiB budget. DeepKE's configuration must run out of memory and
// `memory: auto` must train without an OOM.
import { loadModelDims, parseSize } from '../../src/memory/index.ts';
import {
  autoPlan,
  configOf,
  deepkeDecision,
  loadSpecOf,
  maxPaddingPlan,
  planSummary,
  stepsOf,
} from './auto.ts';
import { errorText, saveResults, type CheckContext } from './context.ts';
import { fixedLengths, writeSyntheticDataset } from './dataset.ts';
import type { ScenarioSection } from './types.ts';
import { runVariant } from './variant.ts';

/** Chinese BERT vocabulary size (bert-base-chinese, Chinese-BERT-wwm). */
export const CHINESE_VOCAB = 21128;
/** The simulated card: an RTX 3060-class 12 GB card reports 11.75 GiB. */
export const CARD_BUDGET = '11.75GiB';

/** Shapes of part (b): full size on a GPU, tiny on CPU. */
function shape(quick: boolean) {
  return quick
    ? { preset: 'bert-tiny', seq: 64, batch: 8, steps: 3, warm: 1 }
    : { preset: 'bert-base', seq: 512, batch: 32, steps: 8, warm: 2 };
}

/** An empty part (b) section (filled by runScenario). */
export function emptyScenario(quick: boolean, cuda: boolean): ScenarioSection {
  const s = shape(quick);
  return {
    model: `${s.preset} (vocab ${CHINESE_VOCAB})`,
    seq_len: s.seq,
    effective_batch: s.batch,
    budget_bytes: cuda ? parseSize(CARD_BUDGET) : null,
    budget_enforced: cuda,
    pass: null,
    note: cuda
      ? ''
      : 'CPU: no memory budget can be enforced, so the OOM half of the check is not applicable; both configurations run as a smoke test',
  };
}

/** Runs part (b) and stores it in ctx.results.scenario (saving after each half). */
export async function runScenario(ctx: CheckContext): Promise<void> {
  const s = shape(ctx.quick);
  const sec = ctx.results.scenario;
  const cuda = ctx.device === 'cuda';
  const dims = loadModelDims(s.preset, { vocab_size: CHINESE_VOCAB });
  const lengths = fixedLengths(s.batch * s.steps, s.seq);
  const dataset = writeSyntheticDataset({
    dir: ctx.tmp_dir,
    name: 'scenario',
    lengths,
    vocab_size: CHINESE_VOCAB,
    num_labels: 50,
    seed: 7,
  });
  const budget = cuda ? parseSize(CARD_BUDGET) : undefined;
  ctx.say(
    `(b) ${sec.model}, effective batch ${s.batch}, length ${s.seq}, budget ${cuda ? CARD_BUDGET : 'none (CPU)'}`,
  );

  const dk = deepkeDecision(ctx.device, s.batch, s.seq, budget);
  // DeepKE-like needs only to show whether its first steps fit: two steps, no timing.
  sec.deepke_like = await runVariant(ctx, {
    label: 'deepke_like',
    load: loadSpecOf(dk, dims, s.steps),
    config: configOf(dk),
    dataset,
    steps: stepsOf(dk, lengths, 2),
    warm_steps: 2,
    reserve_ms: 20_000,
  });
  sec.deepke_like.plan = maxPaddingPlan(ctx, dk, dims);
  saveResults(ctx);

  try {
    const plan = autoPlan(ctx, {
      preset: s.preset,
      dims,
      batch_size: s.batch,
      max_seq_len: s.seq,
      lengths,
      budget: CARD_BUDGET,
    });
    const d = plan.decision;
    const auto = await runVariant(ctx, {
      label: 'memory_auto',
      load: loadSpecOf(d, dims, s.steps),
      config: configOf(d),
      dataset,
      steps: stepsOf(d, lengths, s.steps),
      warm_steps: s.warm,
      reserve_ms: 20_000,
    });
    auto.decision_reasons = d.reasons;
    auto.plan = planSummary(plan.plan);
    sec.auto = auto;
  } catch (e) {
    sec.note = [sec.note, `memory: auto could not be decided: ${errorText(e)}`].filter(Boolean).join('; ');
  }
  sec.pass = cuda ? Boolean(sec.deepke_like?.oom && sec.auto?.ok && !sec.auto.oom) : null;
  saveResults(ctx);
}
