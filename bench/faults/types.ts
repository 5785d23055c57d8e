// The shape of one fault probe: what is done to refit, what a user should see, and a run() that does it for
// real (the built binary, the real worker and server; no mocks). Probe files live beside this one as
// `<area>.probes.ts` and export `PROBES: Probe[]`; bench/faults.ts finds them by name.
import type { ChildProcess } from 'node:child_process';

/** What one probe saw: `ok` when the behaviour matched `expected`, `happened` in one line. */
export interface ProbeResult {
  ok: boolean;
  happened: string;
}

/** Helpers every probe gets: a fresh temp folder, the binary, and a tiny trained run to reuse. */
export interface ProbeContext {
  /** A fresh empty folder for this probe. */
  tmp: string;
  /** Absolute path of the repository root. */
  root: string;
  /** ../shared/assets when present, else undefined. */
  assets?: string;
  /** Runs `node bin/refit.mjs ...args` to the end; `timeoutMs` kills it (status 124). */
  refit(
    args: string[],
    opts?: { env?: Record<string, string | undefined>; timeoutMs?: number; input?: string; cwd?: string },
  ): Promise<{ status: number; stdout: string; stderr: string }>;
  /** Starts `node bin/refit.mjs ...args` and returns the child (the caller stops it). */
  spawnRefit(args: string[], opts?: { env?: Record<string, string | undefined>; cwd?: string }): ChildProcess;
  /** Key=value overrides that train bert-tiny on a small generated dataset on CPU in seconds. */
  tinyTrainArgs(): string[];
  /** A trained tiny run folder shared by every probe (trained once, on first use); do not modify it. */
  tinyRun(): Promise<string>;
}

/** One probe: an issue item it checks, what was done, what was expected, and the run that does it. */
export interface Probe {
  item: string;
  did: string;
  expected: string;
  /** A long probe (it trains a run of its own, or stops one mid-training): only the fault suite (bench/faults.ts)
   *  runs it; the test suite runs the others (test/run/train-faults.test.ts). */
  sweep?: boolean;
  run(ctx: ProbeContext): Promise<ProbeResult>;
}
