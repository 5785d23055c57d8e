// The predict page's raw-text mode in a real browser (Debian's Chromium via playwright-core), on the real server
// with an NER run and a relation run trained here (test/infer/extract-runs.ts): the page shows the entities (marked
// in the text, also after an emoji) and triples that POST /v1/extract answers for the same text, an API error as one
// line, and with an NER run alone, its entities and no relation form; a server whose NER model cannot be opened
// shows that as one line too.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { RunLog } from '../../src/log.ts';
import { startServer, type ServerOptions } from '../../src/serve/index.ts';
import { runEnv } from '../run/helpers.ts';
import { NO_SHARED, trainExtractRuns, type ExtractRuns } from '../infer/extract-runs.ts';
import { NO_BROWSER, launchBrowser } from './browser.ts';

const NO_WEB =
  !existsSync(new URL('../../dist/web/index.html', import.meta.url)) && 'needs npm run build (dist/web)';
const env = runEnv() as Record<string, string>;
const base = mkdtempSync(join(tmpdir(), 'refit-extract-page-'));

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${url}/v1/extract`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

/** What the page shows after Extract: the marked spans, the two tables' cells, the error line. */
async function extractOnPage(page: Page, text: string) {
  await page.fill('#raw-text', text);
  await page.click('#extract');
  await page.waitForFunction(() => {
    const s = document.getElementById('extract-summary')?.textContent ?? '';
    const e = document.getElementById('extract-error')?.textContent ?? '';
    return e !== '' || (s !== '' && s !== 'extracting…');
  });
  // (no named functions inside the page's callbacks: the test's transpiler would wrap them in a helper the page lacks)
  const cells = (table: string) =>
    page.$$eval(`#${table} tbody tr`, (rows) =>
      rows.map((tr) => [...(tr as HTMLTableRowElement).cells].map((c) => c.textContent)),
    );
  return {
    marks: await page.$$eval('#marked mark', (marks) =>
      marks.map((m) => ({
        text: m.querySelector('.ent-text')?.textContent,
        type: (m as HTMLElement).dataset.type,
        start: Number((m as HTMLElement).dataset.start),
        end: Number((m as HTMLElement).dataset.end),
      })),
    ),
    entities: await cells('entities'),
    triples: await cells('triples'),
    error: (await page.textContent('#extract-error')) ?? '',
    shown: await page.isVisible('#extract-result'),
  };
}

/** The page's rows for an answer of POST /v1/extract. */
function expectedRows(x: any) {
  return {
    marks: x.entities.map((e: any) => ({ text: e.text, type: e.type, start: e.start, end: e.end })),
    entities: x.entities.map((e: any) => [
      e.text,
      e.type,
      String(e.start),
      String(e.end),
      e.score.toFixed(3),
    ]),
    triples: (x.triples ?? []).map((t: any) => [
      t.head,
      t.head_type,
      String(t.head_offset),
      t.relation,
      t.tail,
      t.tail_type,
      String(t.tail_offset),
      t.score.toFixed(3),
    ]),
  };
}

describe(
  '/ with an NER run: raw text → entities and triples',
  { skip: NO_BROWSER || NO_WEB || NO_SHARED },
  () => {
    let browser: Browser;
    let runs: ExtractRuns;
    const errors: string[] = [];

    before(async () => {
      runs = await trainExtractRuns(join(base, 'runs'), env);
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
    });

    async function withPage(opts: Partial<ServerOptions>, fn: (page: Page, url: string) => Promise<void>) {
      const server = await startServer({
        host: '127.0.0.1',
        port: 0,
        log: new RunLog(join(base, 'serve.log')),
        env,
        num_threads: 1,
        ...opts,
      });
      const page = await browser.newPage();
      page.on('pageerror', (e) => errors.push(String(e)));
      try {
        await page.goto(`${server.url}/`);
        await page.waitForSelector('#raw-text');
        await fn(page, server.url);
      } finally {
        await page.close();
        await server.close();
      }
    }

    test('NER and RE runs (onnx): the page shows what POST /v1/extract answers, and its 400 as one line', async () => {
      await withPage({ run_dir: runs.re, ner_run_dir: runs.ner, engine: 'onnx' }, async (page, url) => {
        assert.equal(await page.textContent('#page-title'), 'Extract entities and relations');
        // the head/tail form stays, for the relation run
        await page.waitForFunction(() =>
          /relations/.test(document.getElementById('model-info')?.textContent ?? ''),
        );
        assert.equal(await page.isVisible('#mark-head'), true);
        // an emoji before the entities: the API's code-point offsets are 1 less than the JS string's indices
        for (const text of [runs.texts[0], `😀 ${runs.texts[0]}`]) {
          const want = await post(url, { text });
          assert.equal(want.status, 200, JSON.stringify(want.body));
          assert.ok(
            want.body.triples.length >= 1 && want.body.entities.length >= 1,
            JSON.stringify(want.body),
          );
          for (const e of want.body.entities) assert.equal([...text].slice(e.start, e.end).join(''), e.text);
          const shown = await extractOnPage(page, text);
          assert.equal(shown.error, '');
          assert.deepEqual(
            { marks: shown.marks, entities: shown.entities, triples: shown.triples },
            expectedRows(want.body),
          );
          assert.equal(await page.textContent('#marked .ent-text'), want.body.entities[0].text);
        }
        const bad = await post(url, { text: '   ' });
        assert.equal(bad.status, 400);
        const shown = await extractOnPage(page, '   ');
        assert.equal(shown.error, bad.body.error);
        assert.equal(shown.shown, false);
      });
      assert.deepEqual(errors, []);
    });

    test('an NER run alone (onnx): entities only, no relation form', async () => {
      await withPage({ ner_run_dir: runs.ner, engine: 'onnx' }, async (page, url) => {
        await page.waitForFunction(
          () => document.getElementById('page-title')?.textContent === 'Find entities',
        );
        assert.equal(await page.isVisible('#relation-box'), false);
        assert.equal(await page.isVisible('#triples'), false);
        const text = `😀${runs.texts[0]}`;
        const want = await post(url, { text });
        assert.equal(want.status, 200, JSON.stringify(want.body));
        assert.equal(want.body.triples, undefined);
        assert.ok(want.body.entities.length >= 1);
        const shown = await extractOnPage(page, text);
        assert.deepEqual(
          { marks: shown.marks, entities: shown.entities, triples: shown.triples },
          expectedRows(want.body),
        );
        assert.match((await page.textContent('#extract-summary')) ?? '', /^\d+ entit(y|ies)$/);
      });
      assert.deepEqual(errors, []);
    });

    test('an NER model that cannot be opened: 503 from the API, one line on the page', async () => {
      const broken = join(base, 'broken-ner');
      cpSync(runs.ner, broken, { recursive: true });
      writeFileSync(join(broken, 'model', 'model.onnx'), 'not a model');
      await withPage({ ner_run_dir: broken, engine: 'onnx' }, async (page, url) => {
        await page.waitForFunction(
          () => (document.getElementById('extract-error')?.textContent ?? '') !== '',
        );
        const r = await post(url, { text: runs.texts[0] });
        assert.equal(r.status, 503);
        const shown = await extractOnPage(page, runs.texts[0]);
        assert.ok(shown.error.length > 0 && !shown.error.includes('\n'), shown.error);
        assert.match(shown.error, /NER model/);
        assert.equal(shown.shown, false);
      });
      assert.deepEqual(errors, []);
    });
  },
);
