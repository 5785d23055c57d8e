// The lever table, one entry per `memory.*`, `distributed.*` and `model.lora.*` key (memory-levers.ts,
// distributed-levers.ts, lora-levers.ts; the entry type in lever-types.ts), and the views every reader derives from
// it. The config schema and defaults, the plan/fit flags, fit's search, the supervisor's recovery, the doctor's
// general fixes, the web planner, train's decision, the worker's `load` command and the protocol's value types are
// all read from here (docs/architecture.md).
import { DISTRIBUTED_LEVERS } from './distributed-levers.ts';
import { LORA_LEVERS } from './lora-levers.ts';
import { MEMORY_LEVERS } from './memory-levers.ts';
import type { Lever, LoadLevers, RecoveryAction, RecoveryInput } from './lever-types.ts';

export * from './lever-types.ts';

/**
 * The lever table: every `memory.*` key, then every `distributed.*` key, then every `model.lora.*` key (those
 * sections' entries are declared in distributed-levers.ts and lora-levers.ts), in config.yaml order. The config
 * schema and defaults, the plan/fit flags and the docs read this one list; names are unique across the sections.
 */
export const LEVERS: readonly Lever[] = Object.freeze([
  ...MEMORY_LEVERS,
  ...DISTRIBUTED_LEVERS,
  ...LORA_LEVERS,
]);

/** A lever by name (`precision`, `max_seq_len`, …); throws on an unknown name (a programming error). */
export function lever(name: string): Lever {
  const l = LEVERS.find((x) => x.name === name);
  if (!l) throw new Error(`no lever ${name}`);
  return l;
}

/** The levers fit searches, outer loop first (the micro-batch is always the innermost loop, largest first). */
export const FIT_LEVERS: readonly Lever[] = Object.freeze(
  LEVERS.filter((l) => l.fit).sort((a, b) => a.fit!.order - b.fit!.order),
);

/** The levers train decides, in plan.json's `decision` column order (the fields of RunLevers). */
export const DECISION_LEVERS: readonly Lever[] = Object.freeze(
  LEVERS.filter((l) => l.decision).sort((a, b) => a.decision!.order - b.decision!.order),
);

/** The levers the worker implements: the lever fields of its `load` command (LoadLevers), in that command's order. */
export const LOAD_LEVERS: readonly Lever[] = Object.freeze(DECISION_LEVERS.filter((l) => l.decision!.load));

/**
 * The lever fields of a `load` command: each of LOAD_LEVERS from `levers`, or the value the table loads for inference
 * when `levers` leaves it out (predict, eval and export name only what differs). Key order is LOAD_LEVERS's.
 */
export function loadLevers(levers: Partial<LoadLevers>): LoadLevers {
  const given = levers as Record<string, unknown>;
  return Object.fromEntries(
    LOAD_LEVERS.map((l) => [l.name, given[l.name] ?? l.decision!.load!.infer]),
  ) as unknown as LoadLevers;
}

/** The levers OOM recovery pulls, in order. */
export const RECOVERY_LEVERS: readonly Lever[] = Object.freeze(
  LEVERS.filter((l) => l.recovery).sort((a, b) => a.recovery!.order - b.recovery!.order),
);

/** The levers with general doctor advice, fastest first. */
export const ADVICE_LEVERS: readonly Lever[] = Object.freeze(
  LEVERS.filter((l) => l.advice).sort((a, b) => a.advice!.rank - b.advice!.rank),
);

/**
 * The next lever to pull after an OOM in a micro-batch of `failed_size` examples: the first lever in recovery
 * order with a step left (the micro-batch at least halves, in proportion to free/requested when the message says
 * so; then checkpointing; then a shorter window if allowed). Null when nothing is left to try.
 */
export function chooseRecovery(opts: RecoveryInput): RecoveryAction | null {
  for (const l of RECOVERY_LEVERS) {
    const action = l.recovery!.step(opts);
    if (action) return action;
  }
  return null;
}
