// DeepKE's `labels:` (issue 24): in DeepKE's standard NER conf (train.yaml, the entity types) it sets the tag set of a
// `refit train -c conf/` run: each type stands for its B- and I- tags (run_bert.py's label list), a tag of the data
// outside them stops the run with one line naming file:line (exit 2, before anything is written), and a declared
// type the data lacks keeps its tags in the model's tag list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfigDetailed } from '../../src/config/index.ts';
import { readNerSplits } from '../../src/run/prepare-ner.ts';
import { runInProcess } from '../cli/in-process.ts';
import { runEnv } from '../run/helpers.ts';
import { SKIP_REASON, hfFolder } from '../run/deepke-helpers.ts';
import { makeDeepkeNerProject } from './deepke-ner-project.ts';

const DECLARED = ['O', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG', 'B-PER', 'I-PER'];

/** A DeepKE NER project (its train.yaml says `labels: ['LOC','ORG','PER']`) with an NER file of `lines`. */
function project(lines: string): { dir: string; data: string } {
  const dir = makeDeepkeNerProject();
  const data = join(dir, 'train.txt');
  writeFileSync(data, lines);
  return { dir, data };
}
/** No ORG entity: its tags are declared but absent. */
const GOOD = '张 B-PER\n三 I-PER\n在 O\n北 B-LOC\n京 I-LOC\n\n李 B-PER\n四 I-PER\n';

test('the conf sets data.labels; the tag list is O and each type’s B-/I- tags, ORG kept though absent', async () => {
  const { dir, data } = project(GOOD);
  const warnings: string[] = [];
  const { config } = resolveConfigDetailed({
    file: join(dir, 'conf'),
    overrides: [`data.train=${data}`],
    cwd: dir,
    warn: (l) => warnings.push(l),
  });
  assert.deepEqual(config.data.labels, ['LOC', 'ORG', 'PER']);
  assert.ok(!warnings.some((l) => /\blabels\b/.test(l)), warnings.join('\n'));
  const splits = await readNerSplits({ config, warn: () => undefined });
  assert.deepEqual(splits.tags, DECLARED);
});

test('a tag outside the conf’s labels: one line naming file:line, exit 2, no run folder', async () => {
  const { dir, data } = project('张 B-PER\n三 I-PER\n\n北 B-GPE\n京 I-GPE\n');
  const out = join(dir, 'run');
  const r = await runInProcess(
    ['train', '-c', join(dir, 'conf'), `data.train=${data}`, 'device=cpu', '--out', out],
    runEnv({ REFIT_LOG: join(dir, 'refit.log') }) as Record<string, string>,
  );
  assert.equal(r.code, 2, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.trim() && !/warning: /.test(l) && !/^\s*log: /.test(l));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0], /train\.txt:4: tag 'B-GPE' is not in the labels list/);
  assert.ok(!existsSync(out), 'nothing written');
});

test('refit train -c conf/: the model’s tags are the declared ones', { skip: SKIP_REASON }, async () => {
  const { dir, data } = project(GOOD);
  const out = join(dir, 'run');
  const r = await runInProcess(
    [
      'train',
      '-c',
      join(dir, 'conf'),
      `data.train=${data}`,
      `bert_model=${hfFolder(dir)}`,
      'max_seq_length=16',
      'train_batch_size=2',
      'num_train_epochs=1',
      'device=cpu',
      'export.onnx=false',
      '--threads',
      '1',
      '--progress',
      'none',
      '--out',
      out,
    ],
    runEnv({ REFIT_LOG: join(dir, 'refit.log') }) as Record<string, string>,
  );
  assert.equal(r.code, 0, r.stderr);
  const refit = JSON.parse(readFileSync(join(out, 'model', 'refit.json'), 'utf8'));
  assert.deepEqual(refit.tags, DECLARED);
});
