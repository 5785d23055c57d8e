// How the server keeps its model worker alive: the timings (watchdog, heartbeat, grace periods), the restart
// policy after a loss, and the worker's health as /v1/health shows it. Constants and types only.

/** How long a replaced model's worker lives on, so calls already sent to it can finish (ms). */
export const RELOAD_GRACE_MS = 30_000;
/**
 * A worker call that takes longer than this means the worker hangs: it is killed and restarted (ms). Equal to the
 * request's own timeout (PREDICT_TIMEOUT_MS): past it, every caller of the batch has been answered 503 already.
 */
export const WORKER_TIMEOUT_MS = 30_000;
/**
 * How often an idle worker is asked for a cheap answer, and how long it has to give it, so a hang is noticed
 * without traffic (ms).
 */
export const HEARTBEAT_MS = 5_000;
/** A worker that ran this long before it was lost counts as healthy: the count of losses in a row starts again (ms). */
export const STABLE_AFTER_MS = 60_000;
/**
 * Seconds a restarted worker is assumed to take to import torch and load a model before one start was measured;
 * Retry-After then uses the last measured start.
 */
export const WORKER_START_ESTIMATE_S = 3;
/** Retry-After sent while the worker is down for good (seconds): a hint to come back much later. */
export const DOWN_RETRY_AFTER_S = 60;

/**
 * How a lost worker is restarted: at most `max_restarts` times in a row, waiting base_ms, 2×, 4× … (at most
 * max_ms).
 */
export interface RestartPolicy {
  max_restarts: number;
  base_ms: number;
  max_ms: number;
}
/** Default restart policy: 5 restarts in a row (0.5 s, 1 s, 2 s, 4 s, 8 s apart), then `down`. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = { max_restarts: 5, base_ms: 500, max_ms: 15_000 };

/** Where the model's worker is: none opened yet, starting, ready, restarting after a loss, or down for good. */
export type WorkerStatus = 'none' | 'starting' | 'ready' | 'restarting' | 'down';

/** What /v1/health says about the model's worker. */
export interface WorkerHealth {
  status: 'ok' | 'degraded' | 'down';
  reason: string | null;
  worker: {
    state: WorkerStatus;
    pid: number | null;
    restarts: number;
    failures_in_a_row: number;
    last_loss: string | null;
    retry_in_s: number | null;
    /** How long the last start took (open to ready, seconds): what Retry-After counts on for the next one. */
    last_start_s: number | null;
  };
}
