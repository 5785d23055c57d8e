// Shared helpers of the worker tests: the Python to use, tiny load commands, an encoded-dataset writer
// (bytes per docs/encoded-dataset.md) and a safetensors reader for comparing saved weights.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunLog } from '../../src/log.ts';
import {
  findPython,
  WorkerProcess,
  type LoadCommand,
  type WorkerCommand,
  type WorkerEvent,
} from '../../src/worker/index.ts';
import { loadLevers } from '../../src/memory/index.ts';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SHARED = resolve(REPO, '../shared');

let python: Promise<string | null> | undefined;
/** The interpreter with torch that findPython picks here, or null (tests then skip). */
export function testPython(): Promise<string | null> {
  python ??= findPython({ env: process.env }).then(
    (p) => p.python,
    () => null,
  );
  return python;
}

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A temporary folder for one test file, removed when the test process exits. */
export function tempDir(prefix = 'refit-worker-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Starts a real worker on CPU with a memory-only log (2 threads by default: the test machine has 2 cores). */
export async function startWorker(
  env: Record<string, string | undefined> = {},
  num_threads = 2,
): Promise<{ worker: WorkerProcess; log: RunLog }> {
  const py = await testPython();
  if (!py) throw new Error('no python with torch');
  const log = new RunLog();
  const worker = await WorkerProcess.start({
    python: py,
    env: { ...process.env, ...env },
    log,
    num_threads,
  });
  return { worker, log };
}

/** Sends `cmd` and asserts the answer's type. */
export async function expectEvent<T extends WorkerEvent['type']>(
  worker: WorkerProcess,
  cmd: WorkerCommand,
  type: T,
): Promise<Extract<WorkerEvent, { type: T }>> {
  const ev = await worker.request(cmd, { timeout_ms: 60_000 });
  if (ev.type !== type)
    throw new Error(`${cmd.type}: expected ${type}, got ${JSON.stringify(ev).slice(0, 400)}`);
  return ev as Extract<WorkerEvent, { type: T }>;
}

/** A tiny BERT (hidden 32, 2 layers, vocab 100) load command; `dropout` applies everywhere. */
export function tinyLoad(over: Partial<LoadCommand> = {}, dropout = 0): LoadCommand {
  return {
    type: 'load',
    config: {
      vocab_size: 100,
      hidden_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 64,
      max_position_embeddings: 64,
      type_vocab_size: 2,
      hidden_dropout_prob: dropout,
      attention_probs_dropout_prob: dropout,
    },
    head: { kind: 'entity-start', num_labels: 3, dropout },
    // the lever table's inference values: fp32, eager attention, no checkpointing, nothing frozen
    seed: 7,
    device: 'cpu',
    ...loadLevers({}),
    optimizer: { kind: 'adamw', lr: 1e-3, weight_decay: 0.01, betas: [0.9, 0.999], eps: 1e-8 },
    schedule: { warmup_steps: 1, total_steps: 10 },
    max_grad_norm: 1.0,
    ...over,
  };
}

/** One example of the encoded dataset. */
export interface RawExample {
  ids: number[];
  head_pos: number;
  tail_pos: number;
  label: number;
}

/** `n` deterministic examples of lengths 5..20 with markers at positions 1 and 3. */
export function makeExamples(n: number): RawExample[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 5 + ((i * 7) % 16);
    const ids = [2, ...Array.from({ length: len - 2 }, (_, j) => 5 + ((i * 13 + j * 31) % 90)), 3];
    return { ids, head_pos: 1, tail_pos: 3, label: i % 3 };
  });
}

/** Writes a `*.refit-ds` file byte for byte as docs/encoded-dataset.md specifies. */
export function writeDataset(path: string, examples: RawExample[]): string {
  const n = examples.length;
  const lengths = examples.map((e) => e.ids.length);
  const total = lengths.reduce((a, b) => a + b, 0);
  const offsets = [0];
  for (const l of lengths) offsets.push(offsets[offsets.length - 1] + l);
  const parts: Array<[string, 'int64' | 'int32', number[]]> = [
    ['offsets', 'int64', offsets],
    ['input_ids', 'int32', examples.flatMap((e) => e.ids)],
    ['lengths', 'int32', lengths],
    ['head_pos', 'int32', examples.map((e) => e.head_pos)],
    ['tail_pos', 'int32', examples.map((e) => e.tail_pos)],
    ['labels', 'int32', examples.map((e) => e.label)],
  ];
  const align = (x: number): number => Math.ceil(x / 8) * 8;
  const headerFor = (
    start: number,
  ): { json: string; arrays: Record<string, { dtype: string; offset: number; shape: number[] }> } => {
    const arrays: Record<string, { dtype: string; offset: number; shape: number[] }> = {};
    let at = start;
    for (const [name, dtype, values] of parts) {
      arrays[name] = { dtype, offset: at, shape: [values.length] };
      at = align(at + values.length * (dtype === 'int64' ? 8 : 4));
    }
    const header = {
      format: 'refit-ds',
      version: 1,
      n,
      total_tokens: total,
      vocab_size: 100,
      max_seq_len: 64,
      arrays,
      relations: ['a', 'b', 'c'],
      content_hash: 'test',
    };
    return { json: JSON.stringify(header), arrays };
  };
  // The header's length depends on the offsets it lists: grow the reserved room until it fits.
  let room = 1024;
  let built = headerFor(align(12 + room));
  while (Buffer.byteLength(built.json) > room) {
    room *= 2;
    built = headerFor(align(12 + room));
  }
  const dataStart = align(12 + room);
  const end = Object.values(built.arrays).reduce(
    (m, a) => Math.max(m, a.offset + a.shape[0] * (a.dtype === 'int64' ? 8 : 4)),
    0,
  );
  const buf = Buffer.alloc(end);
  buf.write('REFITDS1', 0, 'ascii');
  buf.writeUInt32LE(dataStart - 12, 8);
  buf.write(built.json.padEnd(dataStart - 12, ' '), 12, 'utf8');
  for (const [name, dtype, values] of parts) {
    const { offset } = built.arrays[name];
    values.forEach((v, i) =>
      dtype === 'int64'
        ? buf.writeBigInt64LE(BigInt(v), offset + i * 8)
        : buf.writeInt32LE(v, offset + i * 4),
    );
  }
  writeFileSync(path, buf);
  return path;
}

/** Reads F32 tensors of a .safetensors file: name → values (and the metadata). */
export function readSafetensors(path: string): {
  tensors: Map<string, Float32Array>;
  metadata: Record<string, string>;
} {
  const buf = readFileSync(path);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >;
  const tensors = new Map<string, Float32Array>();
  let metadata: Record<string, string> = {};
  for (const [name, spec] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = spec as unknown as Record<string, string>;
      continue;
    }
    if (spec.dtype !== 'F32') throw new Error(`${name}: ${spec.dtype}`);
    const [a, b] = spec.data_offsets;
    const bytes = buf.subarray(8 + len + a, 8 + len + b);
    tensors.set(
      name,
      new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)),
    );
  }
  return { tensors, metadata };
}

/** Max abs difference between two equally shaped tensor maps, and the largest magnitude seen. */
export function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let m = 0;
  for (const [k, va] of a) {
    const vb = b.get(k);
    if (!vb || vb.length !== va.length) throw new Error(`tensor ${k} differs in presence or shape`);
    for (let i = 0; i < va.length; i++) m = Math.max(m, Math.abs(va[i] - vb[i]));
  }
  return m;
}
