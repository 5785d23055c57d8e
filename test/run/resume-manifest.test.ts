// Resume is the same run (issue 22, item 2), with the built CLI on a real tiny run: relation.csv reordered,
// train.csv replaced by other rows at the same path, valid.csv truncated, a data file gone, config.yaml edited by
// hand and a damaged checkpoint are each refused with one line naming what changed (exit 2, the run untouched);
// --force resumes anyway and the resume event records what it overrode.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CLI, NO_CLI, trainTinyRun } from '../web/tiny-run.ts';
import { readEvents } from './helpers.ts';

const env: Record<string, string | undefined> = { ...process.env };
delete env.REFIT_INJECT_OOM;
delete env.REFIT_INJECT_CRASH;

function refit(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env, encoding: 'utf8', maxBuffer: 1 << 26 },
      (err, stdout, stderr) => done({ status: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

/** relation.csv with the indices of its second and third relations swapped: the classifier's rows 2 and 3 swap. */
function swapRelations(text: string): string {
  const rows = text
    .trim()
    .split('\n')
    .map((l) => l.split(','));
  [rows[2][3], rows[3][3]] = [rows[3][3], rows[2][3]];
  return rows.map((r) => r.join(',')).join('\n') + '\n';
}

describe('--resume checks the run against its manifest', { skip: NO_CLI }, () => {
  let run: string;
  let data: string;
  const resume = (...extra: string[]) =>
    refit(['train', '--resume', '--out', run, '--progress', 'none', ...extra]);
  /** Changes a file for one test and puts it back after. */
  const whileChanged = async (path: string, change: (text: string) => string, f: () => Promise<void>) => {
    const was = readFileSync(path);
    writeFileSync(path, change(String(was)));
    try {
      await f();
    } finally {
      writeFileSync(path, was);
    }
  };
  const refused = async (line: RegExp) => {
    const events = readFileSync(join(run, 'events.jsonl'), 'utf8');
    const r = await resume();
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, line);
    assert.equal(readFileSync(join(run, 'events.jsonl'), 'utf8'), events, 'a refused resume writes nothing');
  };

  before(() => {
    run = trainTinyRun();
    data = dirname(run);
  });
  after(() => rmSync(data, { recursive: true, force: true }));

  test('the run folder has a manifest of what it was started on', () => {
    const m = JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8'));
    assert.equal(m.kind, 'run');
    assert.equal(m.data.train.path, join(data, 'train.csv'));
    assert.equal(m.relations.names.length, 6);
    const last = JSON.parse(readFileSync(join(run, 'checkpoints', 'last.json'), 'utf8'));
    const ck = JSON.parse(readFileSync(join(run, last.checkpoint, 'manifest.json'), 'utf8'));
    assert.equal(ck.kind, 'checkpoint');
    assert.ok(ck.files['checkpoint.pt'] && ck.files['model.safetensors']);
    assert.equal(ck.config_sha256, m.config_sha256);
  });

  test('relation.csv reordered (two relations swap places) is refused', () =>
    whileChanged(join(data, 'relation.csv'), swapRelations, () =>
      refused(/^refit: --resume: relation\.csv: the relations are in another order .* add --force/),
    ));

  test('train.csv replaced by other rows at the same path is refused', () =>
    whileChanged(
      join(data, 'train.csv'),
      (t) => {
        const [head, ...rows] = t.trim().split('\n');
        return [head, ...rows.reverse()].join('\n') + '\n';
      },
      () =>
        refused(
          /--resume: .*train\.csv \(train\): other content than the run was started on \(\d+ bytes, was \d+, same size, other bytes\)/,
        ),
    ));

  test('valid.csv truncated, and missing, are refused', async () => {
    await whileChanged(
      join(data, 'valid.csv'),
      (t) => {
        const lines = t.trim().split('\n');
        return lines.slice(0, lines.length >> 1).join('\n') + '\n'; // cut at a row's end: rows that read well
      },
      () => refused(/valid\.csv \(valid\): other content than the run was started on/),
    );
    renameSync(join(data, 'valid.csv'), join(data, 'valid.away'));
    try {
      const r = await resume();
      assert.equal(r.status, 2);
      assert.match(r.stderr, /valid\.csv/);
    } finally {
      renameSync(join(data, 'valid.away'), join(data, 'valid.csv'));
    }
  });

  test('config.yaml edited by hand in a key a resume may not change is refused, naming the key', () =>
    whileChanged(
      join(run, 'config.yaml'),
      (t) => t.replace(/learning_rate: .*/, 'learning_rate: 0.5'),
      () =>
        refused(/config\.yaml was edited by hand since refit wrote it: train\.learning_rate 0\.001 → 0\.5/),
    ));

  test('a checkpoint whose weights were changed (same size) is not resumed from: named, none older to fall back to', async () => {
    const last = JSON.parse(readFileSync(join(run, 'checkpoints', 'last.json'), 'utf8'));
    const file = join(run, last.checkpoint, 'model.safetensors');
    const was = readFileSync(file);
    const b = Buffer.from(was);
    b.subarray(b.length - 300, b.length - 44).reverse();
    writeFileSync(file, b);
    try {
      const r = await resume();
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
      assert.ok(
        r.stderr.includes(
          `no usable checkpoint to resume from (${last.checkpoint}: model.safetensors: its SHA-256 differs`,
        ),
        r.stderr,
      );
    } finally {
      writeFileSync(file, was);
    }
  });

  test('--force resumes despite the change and records it in the resume event; the run manifest then holds it', async () => {
    const rel = join(data, 'relation.csv');
    const before = JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8')).relations.names;
    writeFileSync(rel, swapRelations(readFileSync(rel, 'utf8')));
    const r = await resume('--force');
    assert.equal(r.status, 0, r.stderr);
    const ev = readEvents(run).filter((e) => e.event === 'resume');
    assert.equal(ev.length, 1);
    assert.match(ev[0].forced, /^relation\.csv: the relations are in another order/);
    assert.match(
      readFileSync(join(run, 'refit.log'), 'utf8'),
      /resume: --force continued despite: relation\.csv/,
    );
    const m = JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8'));
    assert.deepEqual(m.relations.names, [before[0], before[2], before[1], ...before.slice(3)]);
  });

  test('a run without a manifest (an older refit) resumes with a note that it cannot be checked', async () => {
    rmSync(join(run, 'manifest.json'));
    const r = await resume();
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /manifest\.json: missing \(a run started by an older refit\)/);
    assert.ok(existsSync(join(run, 'manifest.json')), 'written again for the next resume');
  });
});
