// Progress reporters: plain lines for pipes, an updating line on a TTY, JSON lines identical to events.jsonl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { REPORTERS, defaultReporter } from '../../src/report/reporters/index.ts';
import { dispatchEvent, type RunEvent } from '../../src/run/index.ts';

function sink(isTTY = false): Writable & { text: string; isTTY: boolean } {
  const w = new Writable({
    write(chunk, _enc, done) {
      w.text += String(chunk);
      done();
    },
  }) as Writable & { text: string; isTTY: boolean };
  w.text = '';
  w.isTTY = isTTY;
  return w;
}

const T = '2026-01-01T00:00:00.000Z';
const EVENTS: RunEvent[] = [
  {
    event: 'run_start',
    time: T,
    run_dir: 'r',
    total_steps: 20,
    steps_per_epoch: 10,
    epochs: 2,
    examples: { train: 320, valid: 0, test: 0 },
    device: 'cpu',
    plan: null,
  },
  ...Array.from({ length: 20 }, (_, i): RunEvent => ({
    event: 'step',
    time: T,
    step: i + 1,
    epoch: i < 10 ? 1 : 2,
    loss: 1 / (i + 1),
    lr: 1e-3,
    grad_norm: 1,
    examples: 16,
    tokens: 900,
    padded_tokens: 1024,
    examples_per_s: 100,
    tokens_per_s: 5600,
    seconds: 0.15,
    wall_seconds: 0.16,
    micro_batches: 1,
    micro_batch_size: 16,
    memory: { device: 'cpu', peak_rss_bytes: 300 * 2 ** 20 },
  })),
  {
    event: 'oom',
    time: T,
    step: 7,
    completed_micro_batches: 0,
    message: 'CUDA out of memory.',
    kind: 'allocator-oom',
    memory: { device: 'cuda' },
  },
  { event: 'recovery', time: T, step: 7, action: 'smaller_micro_batch', from: 16, to: 8, reason: 'halved' },
  {
    event: 'eval',
    time: T,
    epoch: 2,
    step: 20,
    split: 'valid',
    accuracy: 0.5,
    macro_f1: 0.25,
    micro_f1: 0.5,
  },
  { event: 'run_end', time: T, status: 'ok', optimizer_steps: 20, examples_seen: 320, seconds: 3.5 },
];

test('plain: a line every 10 steps and for every other event', () => {
  const out = sink();
  const r = defaultReporter(out);
  for (const e of EVENTS) dispatchEvent([r], e);
  const lines = out.text.trim().split('\n');
  assert.equal(lines[0], 'training: 320 examples, 20 steps on cpu');
  assert.equal(lines[1], 'step 10/20 epoch 1 loss 0.1000 100.0 ex/s 300.0 MiB rss');
  assert.ok(lines.includes('recovery at step 7: smaller_micro_batch 16 → 8'));
  assert.equal(lines.at(-1), 'done: 20 steps, 320 examples in 3.5 s');
  assert.ok(!out.text.includes('\r'));
});

test('tty: the step line is rewritten in place, other events print on their own line', () => {
  const out = sink(true);
  const r = defaultReporter(out);
  for (const e of EVENTS) dispatchEvent([r], e);
  assert.equal((out.text.match(/\r\x1b\[2Kstep \d+\/20/g) ?? []).length, 20);
  assert.match(out.text, /\r\x1b\[2Kout of memory at step 7/);
  assert.match(out.text, /\neval valid epoch 2: accuracy 0\.5000/);
});

test('jsonl: each event as one JSON line', () => {
  const out = sink();
  const r = REPORTERS.jsonl(out);
  for (const e of EVENTS) dispatchEvent([r], e);
  assert.deepEqual(
    out.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    EVENTS,
  );
});
