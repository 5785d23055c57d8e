// The GPU check script: its synthetic dataset writer against the real reader, its length distribution, OOM recording
// through the real worker (injected fault), and full `bench/gpu-check --quick` runs on CPU, part (d)'s distributed rows
// included (skipped without a Python that has torch).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { readEncodedDataset } from '../../src/encode/index.ts';
import {
  chineseReLengths,
  fixedLengths,
  lengthStats,
  writeSyntheticDataset,
} from '../../bench/gpu-check-lib/dataset.ts';
import type { CheckResults } from '../../bench/gpu-check-lib/types.ts';
import type { CheckContext } from '../../bench/gpu-check-lib/context.ts';
import { configOf, deepkeDecision, loadSpecOf, stepsOf } from '../../bench/gpu-check-lib/auto.ts';
import { runVariant } from '../../bench/gpu-check-lib/variant.ts';
import { loadModelDims } from '../../src/memory/index.ts';
import { RunLog } from '../../src/log.ts';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SCRIPT = join(ROOT, 'bench', 'gpu-check');

function torchPython(): string | undefined {
  for (const py of [process.env.REFIT_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!py) continue;
    try {
      execFileSync(py, ['-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 60_000 });
      return py;
    } catch {
      /* next */
    }
  }
  return undefined;
}

test('synthetic dataset: the real reader sees the lengths, entity positions inside each example and labels in range', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-check-ds-'));
  try {
    const lengths = Int32Array.from([3, 17, 64, 5]);
    const path = writeSyntheticDataset({
      dir,
      name: 't',
      lengths,
      vocab_size: 21128,
      num_labels: 50,
      seed: 1,
    });
    const view = readEncodedDataset(path);
    assert.equal(view.header.n, 4);
    assert.equal(view.header.total_tokens, 89);
    assert.deepEqual(Array.from(view.lengths), [3, 17, 64, 5]);
    for (let i = 0; i < 4; i++) {
      const start = Number(view.offsets[i]);
      assert.equal(view.input_ids[start], 101);
      assert.equal(view.input_ids[start + lengths[i] - 1], 102);
      assert.ok(view.head_pos[i] >= 1 && view.head_pos[i] < lengths[i] - 1);
      assert.ok(view.tail_pos[i] >= 1 && view.tail_pos[i] < lengths[i] - 1);
      assert.ok(view.labels[i] >= 0 && view.labels[i] < 50);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Chinese-RE-like lengths: mean near 68, long tail, clamped, same draws for the same seed', () => {
  const a = chineseReLengths(4096, 1);
  const s = lengthStats(a);
  assert.ok(s.mean > 60 && s.mean < 78, `mean ${s.mean}`);
  assert.ok(s.max > 300 && s.max <= 510, `max ${s.max}`);
  assert.ok(Math.min(...a) >= 12);
  assert.deepEqual(chineseReLengths(50, 1), chineseReLengths(50, 1));
  assert.ok(Math.max(...chineseReLengths(500, 2, 128)) <= 128);
});

test(
  "an OOM in a variant is recorded with the doctor's reading of the message, not thrown (what part (b) relies on)",
  { skip: !torchPython() && 'needs a Python with torch', timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpu-check-oom-'));
    try {
      const lengths = fixedLengths(8, 16);
      const dataset = writeSyntheticDataset({
        dir,
        name: 'oom',
        lengths,
        vocab_size: 1200,
        num_labels: 50,
        seed: 1,
      });
      const ctx = {
        python: torchPython()!,
        env: { ...process.env },
        log: new RunLog(),
        num_threads: 1,
        started_ms: Date.now(),
        budget_ms: 600_000,
        say: () => undefined,
      } as unknown as CheckContext;
      const d = deepkeDecision('cpu', 4, 16, undefined);
      const dims = { ...loadModelDims('bert-tiny'), vocab_size: 1200 };
      // REFIT_INJECT_OOM=2: the worker raises PyTorch 2.x's CUDA OOM text in step 2's first micro-batch.
      const res = await runVariant(ctx, {
        label: 'x',
        load: loadSpecOf(d, dims, 10),
        config: configOf(d),
        dataset,
        steps: stepsOf(d, lengths, 3),
        warm_steps: 1,
        reserve_ms: 0,
        extra_env: { REFIT_INJECT_OOM: '2' },
      });
      assert.equal(res.oom, true);
      assert.equal(res.ok, false);
      assert.equal(res.steps_run, 1);
      assert.match(res.oom_message ?? '', /CUDA out of memory\. Tried to allocate 192\.00 MiB/);
      assert.equal(res.oom_report?.kind, 'allocator-oom');
      assert.equal(res.oom_report?.requested_bytes, 192 * 2 ** 20);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'bench/gpu-check --quick on CPU writes the five sections with numbers',
  // part (e), the levers, adds two tiny runs a lever to the smoke run: the limits grow by that
  { skip: !torchPython() && 'needs a Python with torch (REFIT_PYTHON)', timeout: 480_000 },
  () => {
    const out = mkdtempSync(join(tmpdir(), 'gpu-check-out-'));
    try {
      const r = spawnSync(SCRIPT, ['--quick', '--out', out], {
        encoding: 'utf8',
        timeout: 470_000,
        env: { ...process.env, REFIT_PYTHON: torchPython() },
      });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      const res = JSON.parse(readFileSync(join(out, 'gpu-check.json'), 'utf8')) as CheckResults;
      assert.equal(res.mode, 'cpu-quick');
      assert.equal(res.complete, true);
      assert.equal(res.aborted, null);

      assert.equal(res.grid.rows.length, res.grid.points_planned);
      for (const row of res.grid.rows) {
        assert.equal(row.ok, true, row.error);
        assert.equal(row.cache_flushed, true);
        assert.ok(row.measured!.peak_rss! > 0 && row.predicted!.peak_allocated > 0);
        assert.ok(Number.isFinite(row.rel_err!.allocated));
      }
      assert.equal(typeof res.grid.summary.median_abs_err_allocated, 'number');
      assert.equal(res.grid.summary.pass, null);
      // a lever's point repeats an AdamW point (measured peak vs planned, step time vs without it)
      assert.ok(res.grid.rows.some((r) => r.optimizer === 'adamw-8bit' && r.step_s! > 0));

      const sc = res.scenario;
      assert.equal(sc.deepke_like!.ok, true, sc.deepke_like!.error);
      assert.equal(sc.deepke_like!.config.padding, 'max');
      assert.equal(sc.auto!.ok, true, sc.auto!.error);
      assert.equal(sc.auto!.oom, false);
      assert.ok(sc.auto!.examples_per_s! > 0 && sc.auto!.decision_reasons!.length > 0);
      assert.equal(sc.pass, null);

      const [deepke, refit] = res.throughput.variants;
      assert.equal(deepke.label, 'deepke_like');
      assert.equal(refit.config.padding, 'dynamic');
      for (const v of [deepke, refit])
        assert.ok(v.ok && v.real_tokens_per_s! > 0 && v.examples_per_s! > 0 && v.peak_device! > 0, v.label);
      assert.ok(
        refit.padding_fraction! < deepke.padding_fraction!,
        'dynamic padding pads less than padding to max_seq_len',
      );
      assert.equal(typeof res.throughput.speedup_examples_per_s, 'number');

      // (d): plain, ddp, zero1 and fsdp in a group of one, then 2 gloo ranks; dropout 0 and the same effective batch,
      // so every layout trains the same model: the per-step losses agree with plain's. fsdp rows run only where this
      // torch's FSDP2 trains on CPU (2.14 does; 1.13 has no FSDP2): elsewhere they are listed as skipped, with why.
      const dist = res.distributed;
      assert.equal(dist.stopped_early, null);
      const setups = [
        ['plain, 1 process', 4],
        ['ddp, group of one', 4],
        ['zero1, group of one', 4],
        ['fsdp, group of one', 4],
        ['ddp, 2 ranks', 2],
        ['zero1, 2 ranks', 2],
        ['fsdp, 2 ranks', 2],
      ] as const;
      const [major, minor] = res.device.torch_version.split('.').map(Number);
      const fsdpRuns = dist.skipped.length === 0;
      if (major < 2) assert.equal(fsdpRuns, false, `torch ${res.device.torch_version} has no FSDP2`);
      if (major > 2 || (major === 2 && minor >= 14))
        assert.ok(
          fsdpRuns,
          `torch ${res.device.torch_version} trains FSDP2 on CPU: ${dist.skipped[0]?.reason}`,
        );
      const expected = setups.filter(([name]) => fsdpRuns || !name.startsWith('fsdp'));
      assert.deepEqual(
        dist.rows.map((r) => [r.setup, r.micro_batch_size]),
        expected,
      );
      if (!fsdpRuns) {
        assert.deepEqual(
          dist.skipped.map((k) => [k.setup, k.ranks, k.strategy]),
          [
            ['fsdp, group of one', 1, 'fsdp'],
            ['fsdp, 2 ranks', 2, 'fsdp'],
          ],
        );
        for (const k of dist.skipped)
          assert.ok(k.reason.includes(`torch ${res.device.torch_version}`), `${k.setup}: ${k.reason}`);
      }
      const plain = dist.rows[0];
      for (const r of dist.rows) {
        assert.equal(r.ok, true, `${r.setup}: ${r.error}`);
        assert.ok(r.steps > 1 && r.steps === plain.steps, r.setup);
        assert.ok(r.examples_per_s! > 0 && r.ratio_vs_plain! > 0 && r.peak_bytes! > 0, r.setup);
        assert.equal(r.rank_peaks!.length, r.ranks, r.setup);
        if (r !== plain) assert.ok(r.max_rel_loss_diff! <= 1e-4, `${r.setup}: ${r.max_rel_loss_diff}`);
      }
      assert.equal(plain.max_rel_loss_diff, null);

      // (e): every lever of issue 21 against the same run without it
      for (const row of res.levers.rows) {
        assert.equal(row.error, undefined, `${row.lever}: ${row.error}`);
        assert.ok(row.base.ok && row.with_lever!.ok, `${row.lever}: ${row.with_lever?.error}`);
        assert.ok(row.measured_peak_device! > 0 && row.planned_peak_device! > 0, row.lever);
        assert.ok(row.step_time_vs_base! > 0, row.lever);
        // offload: the ms it adds to a step (the non-overlapped bound needs a known card: none on CPU)
        if (row.lever.startsWith('offload'))
          assert.ok(Number.isFinite(row.offload_ms_per_step), `${row.lever}: ${row.offload_ms_per_step}`);
      }
      assert.ok(res.levers.rows.some((r) => r.lever === 'lora'));

      const md = readFileSync(join(out, 'gpu-check.md'), 'utf8');
      for (const h of [
        '## (a)',
        '## (b)',
        '## (c)',
        '## (d)',
        '## (e)',
        '| ddp, 2 ranks | 2 | ddp |',
        '| lora |',
      ])
        assert.ok(md.includes(h), h);
      const fsdpLine = md.split('\n').find((l) => l.startsWith('| fsdp, 2 ranks | 2 | fsdp |'));
      assert.ok(fsdpLine, 'the fsdp row is in the table, run or skipped');
      if (!fsdpRuns) assert.ok(fsdpLine.includes(`skipped: ${dist.skipped[1].reason}`), fsdpLine);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);

test(
  'bench/gpu-check stopped by SIGTERM leaves its partial results, marked aborted',
  { skip: !torchPython() && 'needs a Python with torch', timeout: 120_000 },
  async () => {
    const out = mkdtempSync(join(tmpdir(), 'gpu-check-stop-'));
    try {
      const child = spawn(SCRIPT, ['--quick', '--out', out], {
        stdio: 'ignore',
        env: { ...process.env, REFIT_PYTHON: torchPython() },
      });
      const closed = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
      const file = join(out, 'gpu-check.json');
      for (let i = 0; i < 600 && !existsSync(file); i++) await sleep(100);
      assert.ok(existsSync(file), 'results written before the first measurement');
      child.kill('SIGTERM');
      assert.equal(await closed, 1);
      const res = JSON.parse(readFileSync(file, 'utf8')) as CheckResults;
      assert.match(res.aborted ?? '', /SIGTERM/);
      assert.equal(res.complete, false);
      assert.ok(existsSync(join(out, 'gpu-check.md')));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
