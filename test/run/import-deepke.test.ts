// `refit import-deepke --conf conf/ --checkpoint lm_epoch3.pth --out DIR` on a DeepKE-format checkpoint (golden tiny
// BERT cut to 1 layer + random BiLSTM + fc, saved with torch.save as DeepKE does): `refit predict` on the run gives
// the probabilities of a plain-torch forward of the same checkpoint (≤ 1e-5), and every mismatch DeepKE users hit
// (num_hidden_layers #529, num_relations #449, another model #116, lm_file #410) is one line naming the key.
// `refit serve` on the run answers with the same probabilities as `refit predict`.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vocab, WordPieceTokenizer } from '../../src/tokenize/index.ts';
import { encodeDeepkeLm } from '../../src/encode/index.ts';
import { readSafetensors, testPython } from '../worker/helpers.ts';
import {
  cliEnv,
  deepkeProject,
  ensureBuilt,
  hfFolder,
  makeCheckpoint,
  reference,
  refit,
  ROOT,
  SKIP_REASON,
  tempDir,
} from './deepke-helpers.ts';

const python = await testPython();
const skip = SKIP_REASON || (!python && 'needs a python3 with torch');
const dir = tempDir('refit-import-deepke-');
const env = cliEnv(dir);
const out = join(dir, 'imported');
let project: string;
let hf: string;
let pth: string;
let imported: Awaited<ReturnType<typeof refit>>;

before(async () => {
  if (skip) return;
  ensureBuilt();
  project = deepkeProject(dir, { train: 20, valid: 10, test: 40 });
  hf = hfFolder(dir);
  pth = makeCheckpoint(python!, join(dir, 'lm_epoch3.pth'));
  imported = await refit(
    env,
    'import-deepke',
    '--conf',
    join(project, 'conf'),
    '--checkpoint',
    pth,
    '--out',
    out,
    `lm_file=${hf}`,
  );
});

/** Rows of the sample's test split as predict input: the gold relation's types (as a DeepKE user types them) for most, none for some. */
function predictRows(): Array<{
  text: string;
  head: string;
  tail: string;
  head_offset: number;
  tail_offset: number;
  head_type?: string;
  tail_type?: string;
}> {
  const types = new Map(
    readFileSync(join(project, 'data/origin/relation.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','))
      .map((f) => [f[2], { head_type: f[0], tail_type: f[1] }]),
  );
  const lines = readFileSync(join(project, 'data/origin/test.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .filter((l) => !l.includes('"'))
    .slice(0, 8);
  return lines.map((l, i) => {
    const [text, relation, head, ho, tail, to] = l.split(',');
    return {
      text,
      head,
      tail,
      head_offset: Number(ho),
      tail_offset: Number(to),
      ...(i % 3 === 2 ? {} : types.get(relation)),
    };
  });
}

describe('refit import-deepke', { skip }, () => {
  test("writes a run folder with DeepKE's names and the conf's RNN", () => {
    assert.equal(imported.status, 0, imported.stderr);
    assert.match(
      imported.stdout,
      /^imported .*lm_epoch3\.pth: BERT \(1 layer\) → bidirectional LSTM, hidden_size 100, 1 layer → fc over 11 relations$/m,
    );
    for (const f of [
      'config.yaml',
      'model/config.json',
      'model/vocab.txt',
      'model/model.safetensors',
      'model/refit.json',
      'model/manifest.json',
    ])
      assert.ok(existsSync(join(out, f)), f);
    const m = JSON.parse(readFileSync(join(out, 'model/manifest.json'), 'utf8'));
    assert.deepEqual(Object.keys(m.files).sort(), [
      'config.json',
      'model.safetensors',
      'refit.json',
      'vocab.txt',
    ]);
    assert.equal(m.relations.count, 11);
    const names = [...readSafetensors(join(out, 'model/model.safetensors')).tensors.keys()];
    assert.ok(
      names.includes('bilstm.rnn.weight_hh_l0_reverse') &&
        names.includes('fc.bias') &&
        names.includes('bert.pooler.dense.weight'),
    );
    assert.ok(!names.some((n) => n.includes('position_ids')), 'buffers are not weights');
    const r = JSON.parse(readFileSync(join(out, 'model/refit.json'), 'utf8'));
    assert.equal(r.head, 'deepke-lm');
    assert.equal(r.imported_from.format, 'deepke-lm');
    assert.equal(r.max_seq_len, 512, "DeepKE's window when the conf sets none");
    assert.equal(JSON.parse(readFileSync(join(out, 'model/config.json'), 'utf8')).num_hidden_layers, 1);
  });

  test("refit predict equals a plain-torch forward of the checkpoint (≤ 1e-5) on DeepKE's LM input", async () => {
    const rows = predictRows();
    const input = join(dir, 'rows.jsonl');
    writeFileSync(input, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const r = await refit(env, 'predict', '--run', out, '--input', input, '--top-k', '11');
    assert.equal(r.status, 0, r.stderr);
    const got = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { relation: string; top: Array<{ relation: string; score: number }> });
    // The same ids refit feeds: type words in place of the mentions, then [SEP] head [SEP] tail (lower-cased like BertTokenizer).
    const tokenizer = new WordPieceTokenizer(Vocab.fromFile(join(hf, 'vocab.txt')), { lowercase: true });
    const ids = rows.map((row) => {
      const [hs, ts] = [
        row.text.indexOf(row.head, row.head_offset),
        row.text.indexOf(row.tail, row.tail_offset),
      ];
      const example = {
        text: row.text,
        head: { text: row.head, start: hs, end: hs + row.head.length },
        tail: { text: row.tail, start: ts, end: ts + row.tail.length },
        file: 't',
        line: 1,
      };
      return {
        ids: encodeDeepkeLm({
          tokenizer,
          example,
          max_seq_len: 256,
          types: { head: row.head_type, tail: row.tail_type },
        }).ids,
      };
    });
    const inputs = join(dir, 'ids.json');
    writeFileSync(inputs, JSON.stringify(ids));
    const want = JSON.parse(reference(python!, 'forward', pth, join(hf, 'config.json'), inputs)) as Array<{
      probs: number[];
    }>;
    const names = JSON.parse(readFileSync(join(out, 'model/refit.json'), 'utf8')).relations as string[];
    let worst = 0;
    got.forEach((g, i) => {
      const probs = new Map(g.top.map((t) => [t.relation, t.score]));
      names.forEach((n, k) => {
        worst = Math.max(worst, Math.abs(probs.get(n)! - want[i].probs[k]));
      });
      assert.equal(g.relation, names[want[i].probs.indexOf(Math.max(...want[i].probs))], `row ${i}`);
    });
    // fp32 on the CPU: the same maths in another order (packing, batching with padding) differs by ~1e-7.
    assert.ok(worst <= 1e-5, `probabilities differ by ${worst}`);
  });

  test('refit serve on the run answers POST /v1/predict with head_type/tail_type as refit predict does', async () => {
    const child = spawn(process.execPath, ['bin/refit.mjs', 'serve', '--run', out, '--port', '0'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let said = '';
      const url = await new Promise<string>((done, fail) => {
        const look = (chunk: Buffer) => {
          said += chunk.toString();
          const m = /http:\/\/127\.0\.0\.1:\d+/.exec(said);
          if (m) done(m[0]);
        };
        child.stdout.on('data', look);
        child.stderr.on('data', look);
        child.on('exit', (code) => fail(new Error(`serve exited ${code}: ${said}`)));
      });
      const model = (await (await fetch(`${url}/v1/model`)).json()) as {
        model: { head: string; rnn: unknown };
      };
      assert.equal(model.model.head, 'deepke-lm');
      assert.deepEqual(model.model.rnn, {
        type: 'LSTM',
        hidden_size: 100,
        num_layers: 1,
        bidirectional: true,
        last_layer_hn: true,
        dropout: 0.3,
      });
      const rows = predictRows().slice(0, 3);
      const served = (await (
        await fetch(`${url}/v1/predict?top_k=11`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(rows),
        })
      ).json()) as Array<{ top: Array<{ relation: string; score: number }> }>;
      const input = join(dir, 'serve-rows.jsonl');
      writeFileSync(input, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const cli = (await refit(env, 'predict', '--run', out, '--input', input, '--top-k', '11')).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { top: Array<{ relation: string; score: number }> });
      served.forEach((s, i) => {
        const want = new Map(cli[i].top.map((t) => [t.relation, t.score]));
        // The same model and input in another process: equal up to fp32 rounding of a different batch.
        for (const t of s.top)
          assert.ok(Math.abs(t.score - want.get(t.relation)!) <= 1e-6, `row ${i} ${t.relation}`);
      });
    } finally {
      child.kill('SIGTERM');
    }
  });

  test('mismatches with the conf are one line naming the key, and leave no folder', async () => {
    const run = (o: string, ...args: string[]) =>
      refit(env, 'import-deepke', '--conf', join(project, 'conf'), '--out', join(dir, o), ...args);
    const wide = makeCheckpoint(python!, join(dir, 'lm_30.pth'), 1, 30);
    const junk = join(dir, 'junk.pth');
    writeFileSync(junk, 'not a checkpoint\n');
    // six independent refusals (each its own --out), run side by side
    const [two, thirty, gru, notCkpt, lmIsPth, hubId] = await Promise.all([
      run('bad-layers', '--checkpoint', pth, `lm_file=${hf}`, 'num_hidden_layers=2'),
      run('bad-relations', '--checkpoint', wide, `lm_file=${hf}`, 'num_relations=11'),
      run('bad-rnn', '--checkpoint', pth, `lm_file=${hf}`, 'type_rnn=GRU'),
      run('bad-file', '--checkpoint', junk, `lm_file=${hf}`),
      run('bad-lm', '--checkpoint', pth, `lm_file=${pth}`),
      run('bad-hub', '--checkpoint', pth),
    ]);
    assert.equal(two.status, 2);
    assert.equal(
      two.stderr,
      `refit: ${pth}: the checkpoint has 1 BERT layer but num_hidden_layers is 2: set num_hidden_layers=1, the value it was trained with\n`,
    );
    assert.equal(thirty.status, 2);
    assert.equal(
      thirty.stderr,
      `refit: ${wide}: fc.weight has 30 outputs (trained with num_relations 30) but ${join(project, 'data/origin/relation.csv')} lists 11 relations: use the relation.csv the checkpoint was trained with (num_relations=30)\n`,
    );
    assert.equal(
      gru.stderr,
      `refit: ${pth}: the checkpoint's RNN is an LSTM but type_rnn (model.rnn.type) is GRU: set type_rnn=LSTM\n`,
    );
    assert.equal(notCkpt.status, 2);
    assert.match(notCkpt.stderr, /^refit: .*junk\.pth: not a PyTorch checkpoint \(.*\)\n$/);
    assert.equal(
      lmIsPth.stderr,
      `refit: lm_file ${pth}: a file, not a folder; lm_file is the Hugging Face folder the checkpoint was trained from (config.json, vocab.txt) and --checkpoint is the .pth\n`,
    );
    assert.equal(hubId.status, 2);
    assert.match(
      hubId.stderr,
      /^refit: model\.pretrained 'bert-base-chinese' is a Hugging Face model id, not a folder here: download it/,
    );
    for (const o of ['bad-layers', 'bad-relations', 'bad-rnn', 'bad-file', 'bad-lm', 'bad-hub'])
      assert.ok(!existsSync(join(dir, o)), o);
  });
});
