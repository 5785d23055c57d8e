// The `refit plan` flags that price a `refit fit --json` answer's configuration: the micro-batch and window, and every
// fit lever's plan flag (from the lever table) at the chosen value, so a test holds fit to plan on all of them.
import { FIT_LEVERS } from '../../src/memory/index.ts';

export function planFlagsOf(config: Record<string, string | number | boolean>): string[] {
  const flags = ['--batch-size', String(config.micro_batch_size), '--seq-len', String(config.seq_len)];
  for (const l of FIT_LEVERS) {
    const v = config[l.name];
    if (!l.flag?.plan || v === undefined) continue;
    flags.push(`--${l.flag.name}`, typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v));
  }
  return flags;
}
