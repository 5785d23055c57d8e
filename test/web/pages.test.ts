// The web pages in a real browser (Debian's Chromium via playwright-core): the planner's verdict flips at the fit
// limit, the predict form shows a relation from a trained tiny run, and /runs and report.html draw that run's curves.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { RunLog } from '../../src/log.ts';
import { startServer } from '../../src/serve/index.ts';
import { writeReport } from '../../src/report/index.ts';
import { planMemory, PRESETS, GPUS, type RunShape } from '../../src/memory/index.ts';
import { NO_BROWSER, launchBrowser } from './browser.ts';
import { CLI, NO_CLI, cachedTinyRun } from './tiny-run.ts';
import { writeSyntheticRun } from '../report/synthetic-run.ts';

const NO_WEB =
  !existsSync(new URL('../../dist/web/index.html', import.meta.url)) && 'needs npm run build (dist/web)';
const SKIP = NO_BROWSER || NO_WEB || NO_CLI;

/** Runs the built CLI and returns its stdout. */
const refit = (...args: string[]) => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

/** Opens a page that records page errors and any request leaving the test server. */
async function open(browser: Browser, url: string, errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (!/^(http:\/\/127\.0\.0\.1|file:|data:)/.test(r.url())) errors.push(`network: ${r.url()}`);
  });
  await page.goto(url);
  return page;
}

/** Waits until a canvas has non-transparent pixels (Chart.js has drawn); false after 10 s. */
async function inkOn(page: Page, id: string): Promise<boolean> {
  const drawn = () =>
    page.waitForFunction(
      (cid) => {
        const c = document.getElementById(cid) as HTMLCanvasElement | null;
        if (!c || !c.width || !c.height) return false;
        const d = (c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
        return false;
      },
      id,
      { timeout: 10_000 },
    );
  return drawn().then(
    () => true,
    () => false,
  );
}

describe('web pages', { skip: SKIP }, () => {
  let browser: Browser;
  let server: { url: string; close(): Promise<void> };
  let run_dir: string;
  const errors: string[] = [];

  before(async () => {
    run_dir = cachedTinyRun();
    server = await startServer({ run_dir, host: '127.0.0.1', port: 0, log: new RunLog(), env: process.env });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('/plan: the verdict flips from fits to does not fit when batch size crosses the limit', async () => {
    const run: RunShape = {
      engine: 'refit',
      mode: 'train',
      batch_size: 1,
      seq_len: 256,
      precision: 'fp16',
      attention: 'sdpa',
      grad_checkpointing: false,
      optimizer: 'adamw',
      num_labels: 10,
    };
    const fits = (b: number) =>
      planMemory({ model: PRESETS['bert-base'], run: { ...run, batch_size: b }, gpu: GPUS['RTX 3060'] }).fits;
    let limit = 1;
    while (fits(limit + 1)) limit++; // the largest batch the CLI's planner says fits
    const page = await open(browser, `${server.url}/plan`, errors);
    // the lever controls come from the lever table (their ids are the plan flags' names)
    await page.selectOption('#precision', 'fp16');
    await page.selectOption('#attention', 'sdpa');
    const verdictAt = async (b: number) => {
      await page.fill('#batch', String(b));
      return page.textContent('#verdict');
    };
    assert.equal(await verdictAt(limit), 'fits');
    assert.equal(await verdictAt(limit + 1), 'does not fit');
    assert.ok(await inkOn(page, 'plan-chart'), 'stacked bar drawn');
    // one implementation: the page's figure and choice are exactly what the CLI prints for the same inputs
    const common = [
      '--model',
      'bert-base',
      '--gpu',
      'RTX 3060',
      '--seq-len',
      '256',
      '--num-labels',
      '10',
      '--json',
    ];
    const cliPlan = JSON.parse(
      refit(
        'plan',
        ...common,
        '--batch-size',
        String(limit + 1),
        '--precision',
        'fp16',
        '--attention',
        'sdpa',
        '--grad-checkpointing',
        'off',
        '--optimizer',
        'adamw',
      ),
    );
    assert.equal(await page.getAttribute('#verdict', 'data-peak'), String(cliPlan.peak_device_bytes));
    // and the same strings: one byte formatter for the page and the CLI's text output
    const cliText = refit(
      'plan',
      ...common.filter((a) => a !== '--json'),
      '--batch-size',
      String(limit + 1),
      '--precision',
      'fp16',
      '--attention',
      'sdpa',
      '--grad-checkpointing',
      'off',
      '--optimizer',
      'adamw',
    );
    const [, budget, needs] =
      /^verdict: does not fit RTX 3060 \(([^)]+)\): needs ([^,]+),/m.exec(cliText) ?? [];
    assert.ok(budget && needs, cliText);
    assert.match(
      (await page.textContent('#peak')) ?? '',
      new RegExp(`^predicted peak ${needs.replace('.', '\\.')} of ${budget.replace('.', '\\.')} \\(`),
    );
    await page.click('#fit');
    assert.match((await page.textContent('#fit-verdict')) ?? '', /refit fit would choose/);
    const cliFit = JSON.parse(refit('fit', ...common, '--effective-batch', String(limit + 1)));
    assert.deepEqual(
      JSON.parse((await page.getAttribute('#fit-result', 'data-choice')) ?? 'null'),
      cliFit.config,
    );
    // BERT-large with 28 layers at 512 on a 3 GB card: nothing exact fits, offload included (24 layers now fit with
    // the gradients streamed to the host); with freezing allowed, the page chooses what the CLI does
    const deep = {
      ...{ vocab_size: 30522, hidden_size: 1024, num_hidden_layers: 28, num_attention_heads: 16 },
      ...{ intermediate_size: 4096, max_position_embeddings: 512, type_vocab_size: 2 },
    };
    const deepConfig = join(mkdtempSync(join(tmpdir(), 'refit-pages-')), 'config.json');
    writeFileSync(deepConfig, JSON.stringify(deep));
    await page.selectOption('#model', 'config.json');
    await page.fill('#config-json', JSON.stringify(deep));
    await page.selectOption('#gpu', 'GTX 1060 3GB');
    await page.fill('#seq', '512');
    await page.fill('#batch', '32');
    await page.check('#allow-freeze');
    await page.click('#fit');
    const cliFrozen = JSON.parse(
      refit(
        'fit',
        ...['--model', deepConfig, '--gpu', 'GTX 1060 3GB', '--seq-len', '512', '--num-labels', '10'],
        ...['--effective-batch', '32', '--allow', 'freeze', '--json'],
      ),
    );
    assert.ok(cliFrozen.fits && cliFrozen.config.freeze_layers > 0, JSON.stringify(cliFrozen.config));
    assert.deepEqual(
      JSON.parse((await page.getAttribute('#fit-result', 'data-choice')) ?? 'null'),
      cliFrozen.config,
    );
    await page.uncheck('#allow-freeze');
    await page.selectOption('#model', 'config.json');
    await page.fill('#config-json', '{"hidden_size": 100, "num_attention_heads": 12}');
    assert.match((await page.textContent('#verdict')) ?? '', /config\.json: .*hidden_size/);
    assert.deepEqual(errors, []);
  });

  test('/: the predict form shows a relation and the top probabilities', async () => {
    const page = await open(browser, `${server.url}/`, errors);
    await page.waitForFunction(() =>
      /relations/.test(document.getElementById('model-info')?.textContent ?? ''),
    );
    const text = 'Marie Curie was born in Warsaw.';
    await page.fill('#text', text);
    // mark the head by selecting it in the sentence, type the tail
    await page.evaluate(() =>
      (document.getElementById('text') as HTMLTextAreaElement).setSelectionRange(0, 11),
    );
    await page.click('#mark-head');
    assert.equal(await page.inputValue('#head'), 'Marie Curie');
    await page.fill('#tail', 'Warsaw');
    await page.click('#predict');
    await page.waitForFunction(() => (document.getElementById('relation')?.textContent ?? '').length > 0);
    const relations = JSON.parse(readFileSync(`${run_dir}/model/refit.json`, 'utf8')).relations as string[];
    assert.ok(relations.includes((await page.textContent('#relation')) ?? ''), 'a relation of the model');
    assert.ok(await inkOn(page, 'top-chart'), 'top probabilities drawn');
    await page.fill('#tail', 'Paris');
    await page.click('#predict');
    await page.waitForFunction(() => (document.getElementById('error')?.textContent ?? '').length > 0);
    assert.equal(await page.textContent('#error'), "tail 'Paris' is not in the text");
    assert.deepEqual(errors, []);
  });

  test('/: an entity marked after an emoji and an astral CJK character is sent as a code-point offset', async () => {
    const page = await open(browser, `${server.url}/`, errors);
    await page.waitForFunction(() =>
      /relations/.test(document.getElementById('model-info')?.textContent ?? ''),
    );
    // Ann twice: the selection marks the second one; in UTF-16 units it starts 2 later than in code points
    const text = '😀𠀀 Ann met Ann in Oslo.';
    await page.fill('#text', text);
    await page.evaluate(
      (at) => (document.getElementById('text') as HTMLTextAreaElement).setSelectionRange(at, at + 3),
      text.lastIndexOf('Ann'),
    );
    await page.click('#mark-head');
    await page.fill('#tail', 'Oslo');
    const sent = page.waitForRequest((r) => r.url().includes('/v1/predict'));
    await page.click('#predict');
    assert.equal(
      JSON.parse((await sent).postData() ?? '{}').head_offset,
      [...text.slice(0, text.lastIndexOf('Ann'))].length,
    );
    await page.waitForFunction(() => (document.getElementById('relation')?.textContent ?? '').length > 0);
    assert.equal(await page.textContent('#error'), '');
    assert.deepEqual(errors, []);
  });

  test('/runs: the curves of the finished tiny run', async () => {
    const page = await open(browser, `${server.url}/runs`, errors);
    await page.waitForFunction(() => document.getElementById('report')?.dataset.status === 'finished');
    const steps = readFileSync(`${run_dir}/events.jsonl`, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"event":"step"')).length;
    assert.ok(steps > 0);
    assert.equal(await page.textContent('#rr-summary .card:first-child .v'), String(steps));
    for (const id of ['rr-loss-chart', 'rr-valid-chart', 'rr-memory-chart', 'rr-speed-chart'])
      assert.ok(await inkOn(page, id), id);
    assert.match((await page.textContent('#rr-confusion-table')) ?? '', /rows gold/);
    assert.deepEqual(errors, []);
  });

  test('report.html opens offline from a file and draws the same charts', async () => {
    const path = await writeReport({ run_dir });
    const page = await open(browser, `file://${path}`, errors);
    for (const id of ['rr-loss-chart', 'rr-memory-chart']) assert.ok(await inkOn(page, id), id);
    assert.deepEqual(errors, []);
  });
});

describe('live /runs page', { skip: NO_BROWSER || NO_WEB }, () => {
  test('updates without reloading while the run folder is written (as under refit train --serve)', async () => {
    const run_dir = join(writeSyntheticRun({ steps: 0, finished: false }), '..', 'not-yet');
    const server = await startServer({ run_dir, host: '127.0.0.1', port: 0, log: new RunLog(), env: {} });
    const browser = await launchBrowser();
    const errors: string[] = [];
    try {
      const page = await open(browser, `${server.url}/runs`, errors);
      await page.waitForFunction(() => document.getElementById('report')?.dataset.events === '0');
      writeSyntheticRun({ steps: 5, finished: false, dir: run_dir }); // the run starts writing
      await page.waitForFunction(() => document.getElementById('report')?.dataset.events === '6');
      assert.equal(await page.textContent('#rr-summary .card:first-child .v'), '5');
      assert.equal(await page.getAttribute('#report', 'data-status'), 'running');
      const more = [6, 7, 8].map((step) =>
        JSON.stringify({
          event: 'step',
          step,
          loss: 0.5,
          lr: 1e-5,
          examples: 16,
          examples_per_s: 100,
          tokens_per_s: 5000,
          memory: { device: 'cuda', max_memory_allocated: 900e6, max_memory_reserved: 1e9 },
        }),
      );
      appendFileSync(
        join(run_dir, 'events.jsonl'),
        [...more, JSON.stringify({ event: 'run_end', status: 'ok' })].join('\n') + '\n',
      );
      await page.waitForFunction(() => document.getElementById('report')?.dataset.status === 'finished');
      assert.equal(await page.textContent('#rr-summary .card:first-child .v'), '8');
      assert.ok(await inkOn(page, 'rr-memory-chart'));
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
