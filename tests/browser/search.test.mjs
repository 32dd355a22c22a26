// End-to-end test of medsearch's web page in a real browser: Debian's chromium driven by
// playwright-core against a running medsearch-server over the sample corpus (run.sh starts
// it, over corpus/samples and tests/fixtures/web.jsonl). Asks the ALS question, checks the
// three groups, follows a reference, filters, uses "did you mean", pages, steps Back and
// Forward, checks the empty, error and phone-width states, records with markup, script,
// right-to-left text and long words, and fails on any console error or dialog the step did not
// expect. Saves screenshots of the results.
//
// Environment: MEDSEARCH_URL (the server, required), MEDSEARCH_ARTIFACTS (folder for the
// screenshots, required), MEDSEARCH_BUSY_URL (a server of one worker and no queue, for the 503
// steps, which are skipped without it), CHROMIUM (default /usr/bin/chromium).
// Exit status: 0 when every step passed or was skipped with a reason, 1 otherwise.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.MEDSEARCH_URL?.replace(/\/$/, '');
const busyBase = process.env.MEDSEARCH_BUSY_URL?.replace(/\/$/, '');
const artifacts = process.env.MEDSEARCH_ARTIFACTS;
if (!base || !artifacts) {
  console.error('search.test.mjs: set MEDSEARCH_URL and MEDSEARCH_ARTIFACTS (tests/browser/run.sh does)');
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });

const ALS = 'What are the treatment options for ALS?';
const GROUPS = ['From the Guidelines', 'From the FDA Drug Label', 'From the Research'];
const STEP_TIMEOUT_MS = 10000;

// ---- a small step runner ------------------------------------------------------------------

const results = [];
class Skip extends Error {}
const skip = (reason) => { throw new Skip(reason); };

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, status: 'PASS' });
    console.log(`PASS  ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    if (error instanceof Skip) {
      results.push({ name, status: 'SKIP', reason: error.message });
      console.log(`SKIP  ${name}: ${error.message}`);
    } else {
      results.push({ name, status: 'FAIL' });
      console.log(`FAIL  ${name}\n      ${String(error?.stack ?? error).split('\n').join('\n      ')}`);
    }
  }
}

// ---- the API as it is on this server (facets, spelling and /suggest may not have landed) ---

async function apiJson(pathAndQuery) {
  const res = await fetch(`${base}${pathAndQuery}`);
  return { status: res.status, body: await res.json().catch(() => null) };
}

const probe = (await apiJson(`/search?q=${encodeURIComponent(ALS)}&limit=1`)).body ?? {};
const api = {
  facets: probe.facets !== undefined,
  spelling: probe.spelling !== undefined,
  suggest: (await apiJson('/suggest?prefix=ril&limit=8')).status !== 404,
};
console.log(`API on this server: facets ${api.facets ? 'yes' : 'no'}, spelling ${api.spelling ? 'yes' : 'no'}, ` +
  `/suggest ${api.suggest ? 'yes' : 'no'}`);

// ---- the browser --------------------------------------------------------------------------

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    ...(isRoot ? ['--no-sandbox'] : []),
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-default-apps',
    '--disable-sync',
    '--no-first-run',
    '--disable-dev-shm-usage',
    '--metrics-recording-only',
    '--force-color-profile=srgb',
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
context.setDefaultTimeout(STEP_TIMEOUT_MS);
// Nothing leaves the machine: any request to another host fails the run.
const offsite = [];
await context.route((url) => !url.href.startsWith(base), (route) => {
  offsite.push(route.request().url());
  return route.abort();
});
const page = await context.newPage();

// Console errors and page errors fail the run unless the current step expects them
// (a 400 in the error-state step; a 404 from /suggest on a server without it).
const consoleErrors = [];
let expectedConsole = [];
page.on('console', (msg) => {
  if (msg.type() !== 'error') return;
  const where = msg.location()?.url ?? '';
  const text = `${msg.text()} ${where}`;
  if (expectedConsole.some((re) => re.test(text))) return;
  consoleErrors.push(text);
});
page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
// A dialog can only come from script the page did not mean to run.
page.on('dialog', (dialog) => {
  consoleErrors.push(`dialog: ${dialog.message()}`);
  dialog.dismiss().catch(() => {});
});
if (!api.suggest) expectedConsole.push(/status of 404.*\/suggest\?/);
const baseExpected = [...expectedConsole];

// Holds the page's requests matching `glob` until release() is called, as a slow server would:
// `asked` resolves when the first one is held. unroute(glob) ends it.
function holdRequests(glob) {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  const asked = new Promise((resolve) => {
    page.route(glob, async (route) => {
      resolve();
      await held;
      await route.continue().catch(() => {});  // the page may have given up on it
    });
  });
  return { asked, release };
}

// Resolves when a request `matches` accepts finishes or fails (the page gave it up). Listen
// before the action that settles it: a listener added after waits for nothing.
function requestSettled(matches) {
  return Promise.race([
    page.waitForEvent('requestfinished', matches),
    page.waitForEvent('requestfailed', matches),
  ]);
}

// A /search that fails on the server (HTTP 500), as a route() handler.
const failSearch = (route) => route.fulfill({ status: 500, contentType: 'application/json',
  body: JSON.stringify({ error: { code: 'internal', message: 'the search failed' } }) });

// Resolves with the JSON of the next /search response the page receives.
function nextSearch() {
  return page.waitForResponse((res) => new URL(res.url()).pathname === '/search')
    .then(async (res) => ({ status: res.status(), url: res.url(), body: await res.json().catch(() => null) }));
}

// The live status line's text.
const statusText = () => page.locator('#status').innerText();

async function groupHeadings() {
  return page.locator('section.group:not(.group-empty) > h2').evaluateAll((hs) =>
    hs.map((h) => h.firstChild.textContent.trim()));
}

async function facetCounts() {
  return page.locator('#filters [data-count]').evaluateAll((els) =>
    els.map((e) => `${e.closest('li').textContent.replace(/\s+/g, ' ').trim()}`));
}

// ---- the steps ----------------------------------------------------------------------------

await step('landing page: question box, disclaimer, landmarks, labels', async () => {
  const res = await page.goto(`${base}/`);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'], /^text\/html/);
  await page.getByRole('heading', { name: 'Ask a clinical question' }).waitFor();
  const disclaimer = await page.locator('#disclaimer').innerText();
  assert.match(disclaimer, /search tool, not clinical advice/);
  assert.match(disclaimer, /demonstration corpus written from public sources/);
  for (const role of ['banner', 'search', 'main', 'contentinfo']) {
    assert.equal(await page.getByRole(role).count(), 1, `one ${role} landmark`);
  }
  // Every form control has an accessible name; the box is labelled "Clinical question".
  await page.getByRole('combobox', { name: 'Clinical question' }).waitFor();
  const unnamed = await page.locator('input, button, select, textarea').evaluateAll((els) =>
    els.filter((e) => e.offsetParent !== null)
      .filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim()))
      .map((e) => e.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, [], 'controls without a name');
  // Keyboard: the first Tab reaches the skip link; "/" jumps to the question box.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Skip to results');
  await page.locator('body').click({ position: { x: 5, y: 300 } });
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'q');
});

let alsAnswer = null;
await step('ALS question: three groups with highlighted passages and [n] references', async () => {
  const input = page.getByRole('combobox', { name: 'Clinical question' });
  await input.fill(ALS);
  const answered = nextSearch();
  await input.press('Enter');
  alsAnswer = (await answered).body;
  await page.locator('section.group-research .hit').first().waitFor();
  assert.deepEqual(await groupHeadings(), GROUPS);
  for (const source of ['guideline', 'fda_label', 'research']) {
    assert.ok(await page.locator(`section.group-${source} article.hit`).count() >= 1, `hits in ${source}`);
  }
  assert.ok(await page.locator('.snippet mark').count() >= 3, 'highlighted terms');
  assert.match(await page.locator('.snippet mark').first().innerText(), /ALS|treatment|amyotrophic/i);
  // Snippets are text: no markup from the data other than <mark>.
  assert.equal(await page.locator('.snippet *:not(mark)').count(), 0);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('q'), ALS, 'the question is in the address');
  assert.match(await page.locator('#status').innerText(), /About \d+ matching records · showing 1–10/);
  // Every [n] in the text names an entry of the References list.
  const refs = await page.locator('a.ref-link').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert.equal(refs.length, alsAnswer.hits.length);
  for (const href of refs) assert.equal(await page.locator(href).count(), 1, `${href} exists`);
  assert.equal(await page.locator('#references li').count(), alsAnswer.references.length);
  assert.deepEqual(consoleErrors, []);
});

await step('screenshot of the ALS answer', async () => {
  const file = path.join(artifacts, 'search-als.png');
  await page.screenshot({ path: file, fullPage: true });
  console.log(`      screenshot: ${file}`);
});

await step('follow a reference: [n] jumps to its full citation and back', async () => {
  const link = page.locator('section.group-fda_label a.ref-link').first();
  const href = await link.getAttribute('href');
  const number = Number(href.replace('#ref-', ''));
  const ref = alsAnswer.references.find((r) => r.number === number);
  await link.click();
  const item = page.locator(href);
  await page.waitForFunction((id) => document.activeElement?.id === id, href.slice(1));
  assert.ok(await item.isVisible());
  const box = await item.boundingBox();
  const viewport = page.viewportSize();
  assert.ok(box.y >= 0 && box.y + box.height <= viewport.height, 'the reference is scrolled into view');
  const text = await item.innerText();
  assert.ok(text.includes(`[${number}]`));
  assert.ok(text.includes(ref.formatted.slice(0, 40)), 'the full citation');
  assert.ok(page.url().endsWith(href), 'the address names the reference');
  // Identifiers and URLs are links that leave the site in a new tab.
  const external = page.locator('#references a.external');
  assert.ok(await external.count() >= 1, 'at least one identifier or URL is linked');
  for (const a of await external.all()) {
    assert.match(await a.getAttribute('href'), /^https:\/\//);
    assert.equal(await a.getAttribute('target'), '_blank');
    assert.match(await a.getAttribute('rel'), /noopener/);
  }
  for (const r of alsAnswer.references) {
    const c = r.citation ?? {};
    if (c.pmid) assert.equal(await page.locator(`#ref-${r.number} a[href="https://pubmed.ncbi.nlm.nih.gov/${c.pmid}/"]`).count(), 1);
    if (c.doi) assert.equal(await page.locator(`#ref-${r.number} a[href^="https://doi.org/"]`).count(), 1);
    if (c.set_id) assert.equal(await page.locator(`#ref-${r.number} a[href*="setid=${c.set_id}"]`).count(), 1);
  }
  await item.locator('a.back-link').click();
  await page.waitForFunction(() => document.activeElement?.matches('article.hit'));
});

await step('reload: the shared address shows the same answer', async () => {
  const answered = nextSearch();
  await page.reload();
  await answered;
  await page.locator('section.group-research .hit').first().waitFor();
  assert.deepEqual(await groupHeadings(), GROUPS);
  assert.equal(await page.getByRole('combobox', { name: 'Clinical question' }).inputValue(), ALS);
});

// Each passage on screen as [n] and the start of the citation [n] leads to.
async function citedAs() {
  return page.locator('article.hit').evaluateAll((articles) => Object.fromEntries(articles.map((a) => {
    const link = a.querySelector('a.ref-link');
    const target = link && document.querySelector(link.getAttribute('href'));
    return [a.id, `${link?.textContent} ${target?.querySelector('.ref-citation')?.textContent.slice(0, 60)}`];
  })));
}

await step('more results: "Show more" extends the answer and moves focus to the first new passage', async () => {
  const more = page.locator('#show-more');
  if (!(await more.count())) skip('fewer than 11 matching records');
  const before = await citedAs();
  const answered = nextSearch();
  await more.click();
  const body = (await answered).body;
  assert.ok(body.hits.length > 10);
  await page.waitForFunction(() => document.activeElement?.id === 'hit-11');
  assert.equal(new URL(page.url()).searchParams.get('n'), '20');
  assert.equal(await page.locator('#references li').count(), body.references.length);
  // A reader who noted [3] finds the same source at [3]: the passages shown before keep their
  // numbers and the numbers their citations (the ALS answer's labels and papers moved by 3).
  const after = await citedAs();
  for (const [id, cited] of Object.entries(before)) assert.equal(after[id], cited, `${id} after "Show more"`);
  // The list is numbered 1, 2, ... and every [n] on the page names an entry of it.
  const numbers = await page.locator('#references .ref-number').allInnerTexts();
  assert.deepEqual(numbers, numbers.map((_, i) => `[${i + 1}]`));
  for (const href of await page.locator('a.ref-link').evaluateAll((as) => as.map((a) => a.getAttribute('href')))) {
    assert.equal(await page.locator(href).count(), 1, `${href} exists`);
  }
});

await step('more results from an address with n=15: whole pages, so "Show more" keeps the numbers too', async () => {
  // References are numbered ten hits at a time; a page of 15 would have its hits 11-15 renumbered
  // by the page of 25 that "Show more" asked for next (the ALS answer's [12]-[15] moved).
  const answered = nextSearch();
  await page.goto(`${base}/?q=${encodeURIComponent(ALS)}&n=15`);
  const first = await answered;
  assert.equal(new URL(first.url).searchParams.get('limit'), '20', 'n rounded up to a whole page');
  await page.locator('article.hit').first().waitFor();
  if (!(await page.locator('#show-more').count())) skip('fewer than 21 matching records');
  const before = await citedAs();
  const more = nextSearch();
  await page.locator('#show-more').click();
  assert.equal(new URL((await more).url).searchParams.get('limit'), '30');
  await page.waitForFunction(() => document.activeElement?.id === 'hit-21');
  const after = await citedAs();
  for (const [id, cited] of Object.entries(before)) assert.equal(after[id], cited, `${id} after "Show more"`);
});

await step('Back and Forward: one step per search, the box shows the question on screen', async () => {
  const input = page.getByRole('combobox', { name: 'Clinical question' });
  const search = async (q) => {
    const answered = nextSearch();
    await input.fill(q);
    await input.press('Enter');
    await answered;
    await page.waitForFunction((title) => document.title.startsWith(title), q);
  };
  await page.goto(`${base}/?q=${encodeURIComponent(ALS)}`);
  await page.locator('article.hit').first().waitFor();
  await search('riluzole');
  await search('riluzole');  // asked again: answered again, not a second step in the history
  let back = nextSearch();
  await page.goBack();
  await back;
  assert.equal(new URL(page.url()).searchParams.get('q'), ALS, 'one Back returns to the previous question');
  assert.equal(await input.inputValue(), ALS);
  const forward = nextSearch();
  await page.goForward();
  await forward;
  assert.equal(await input.inputValue(), 'riluzole');
  // Back while the keyboard is still in the box: the box follows the answer.
  await search('metformin');
  await input.focus();
  back = nextSearch();
  await page.goBack();
  await back;
  await page.waitForFunction(() => document.title.startsWith('riluzole'));
  assert.equal(await input.inputValue(), 'riluzole', 'the box shows the question of the answer on screen');
});

await step('skip link: moves to the results without searching again', async () => {
  await page.goto(`${base}/?q=riluzole`);
  await page.locator('article.hit').first().waitFor();
  const searches = [];
  const count = (req) => { if (new URL(req.url()).pathname === '/search') searches.push(req.url()); };
  page.on('request', count);
  try {
    await page.locator('a.skip-link').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'results');
    // A search started by the skip link would have been sent by now, before this one.
    const answered = nextSearch();
    const input = page.getByRole('combobox', { name: 'Clinical question' });
    await input.fill('metformin');
    await input.press('Enter');
    await answered;
    assert.equal(searches.length, 1, `searches sent: ${searches.join(', ')}`);
  } finally {
    page.off('request', count);
  }
  // Back from there is the riluzole answer (the #results step does not count as a search).
  const back = nextSearch();
  await page.goBack();
  await back;
  assert.equal(new URL(page.url()).searchParams.get('q'), 'riluzole');
});

await step('more results past the count of matching records: related passages stay reachable', async () => {
  // The second stage adds passages related to the question that share none of its words,
  // ranked after those that do and not counted in total_estimate (README, GET /search).
  const q = 'side effects of metformin';
  const probe20 = (await apiJson(`/search?q=${encodeURIComponent(q)}&limit=20`)).body;
  if (!(probe20.total_estimate < 10 && probe20.hits.length > 10)) {
    skip(`"${q}" has ${probe20.total_estimate} matching records and ${probe20.hits.length} hits in 20`);
  }
  await page.goto(`${base}/?q=${encodeURIComponent(q)}`);
  await page.locator('article.hit').first().waitFor();
  const status = await page.locator('#status').innerText();
  assert.match(status, new RegExp(`About ${probe20.total_estimate} matching records? · showing 1–10`));
  assert.match(status, /related/, `the status says what the passages past the count are: ${status}`);
  assert.equal(await page.locator('nav.more').getByText('End of results').count(), 0, 'not the end');
  const answered = nextSearch();
  await page.locator('#show-more').click();
  const body = (await answered).body;
  await page.waitForFunction(() => document.activeElement?.id === 'hit-11');
  assert.deepEqual(body.hits.map((h) => h.passage_id), probe20.hits.map((h) => h.passage_id));
  assert.equal(await page.locator('article.hit').count(), 20);
});

await step('source filter: only guidelines, in the address, removable', async () => {
  await page.goto(`${base}/?q=${encodeURIComponent(ALS)}`);
  await page.locator('section.group-research .hit').first().waitFor();
  const answered = nextSearch();
  await page.locator('#facet-source').getByLabel(/Guidelines/).check();
  const body = (await answered).body;
  assert.ok(body.hits.every((h) => h.source === 'guideline'));
  await page.waitForFunction(() => !document.querySelector('section.group-research'));
  assert.deepEqual(await groupHeadings(), ['From the Guidelines']);
  assert.deepEqual(new URL(page.url()).searchParams.getAll('source'), ['guideline']);
  assert.equal(await page.locator('.active-filters .chip').count(), 1);
  const cleared = nextSearch();
  await page.locator('.active-filters .chip').click();
  await cleared;
  await page.locator('section.group-research .hit').first().waitFor();
  assert.deepEqual(await groupHeadings(), GROUPS);
});

await step('keyboard: "/" reaches the question box from a filter checkbox and a button too', async () => {
  await page.goto(`${base}/?q=${encodeURIComponent(ALS)}`);
  await page.locator('section.group-research .hit').first().waitFor();
  const box = page.locator('#facet-source input[type=checkbox]').first();
  await box.focus();
  await page.keyboard.press('Space');  // ticked from the keyboard, which stays on it
  await page.waitForFunction(() => new URL(location.href).searchParams.has('source'));
  await page.waitForFunction(() => document.querySelector('#results').getAttribute('aria-busy') === 'false');
  await page.waitForFunction(() => document.activeElement?.matches('#facet-source input[type=checkbox]'));
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'q', '"/" from a checkbox');
  assert.equal(await page.locator('#q').inputValue(), ALS, 'nothing typed into the box');
  await page.locator('.chip').first().focus();
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'q', '"/" from a button');
  // In a box that takes text, "/" is a character.
  await page.locator('#year-from').focus();
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'year-from');
});

await step('facets: counts shown, and they change when a filter is applied', async () => {
  if (!api.facets) skip('GET /search on this server has no "facets" yet (the facets API has not landed)');
  await page.goto(`${base}/?q=${encodeURIComponent(ALS)}`);
  await page.locator('section.group-research .hit').first().waitFor();
  await page.locator('#facet-source [data-count]').first().waitFor();
  const before = await facetCounts();
  assert.ok(before.length >= 3, 'counts beside the filters');
  for (const id of ['#facet-drug', '#facet-section', '#facet-evidence_level']) {
    assert.ok(await page.locator(id).isVisible(), `${id} shown`);
  }
  // The most frequent drug: ticking it must change the counts and keep every hit about it.
  const drug = page.locator('#facet-drug input[type=checkbox]').first();
  const drugValue = (await drug.getAttribute('data-key')).replace(/^drug:/, '');
  const answered = nextSearch();
  await drug.check();
  const body = (await answered).body;
  assert.ok(new URL((await answered).url).searchParams.getAll('drug').includes(drugValue));
  await page.waitForFunction((b) => JSON.stringify([...document.querySelectorAll('#filters [data-count]')]
    .map((e) => e.closest('li').textContent.replace(/\s+/g, ' ').trim())) !== b, JSON.stringify(before));
  const after = await facetCounts();
  assert.notDeepEqual(after, before, 'counts changed');
  assert.ok(body.total_estimate <= alsAnswer.total_estimate);
  assert.deepEqual(new URL(page.url()).searchParams.getAll('drug'), [drugValue]);
  assert.ok(await page.locator('#facet-drug input[type=checkbox]:checked').count() === 1);
});

await step('did you mean: a misspelt drug offers the correction, and the link searches it', async () => {
  if (!api.spelling) skip('GET /search on this server has no "spelling" yet (the spelling API has not landed)');
  const answered = nextSearch();
  await page.goto(`${base}/?q=${encodeURIComponent('riluzle side effects')}`);
  const body = (await answered).body;
  assert.ok(body.spelling?.suggestion, `a suggestion for "riluzle side effects", got ${JSON.stringify(body.spelling)}`);
  const link = page.locator('#did-you-mean');
  await link.waitFor();
  assert.equal(await link.innerText(), body.spelling.suggestion);
  // The live status line announces it too (role=status), not only the link a reader must find.
  const announced = await page.locator('#status').innerText();
  assert.ok(announced.includes(`Did you mean ${body.spelling.suggestion}?`), `status line: ${announced}`);
  const corrected = nextSearch();
  await link.click();
  await corrected;
  assert.equal(new URL(page.url()).searchParams.get('q'), body.spelling.suggestion);
  assert.equal(await page.getByRole('combobox', { name: 'Clinical question' }).inputValue(), body.spelling.suggestion);
  await page.locator('article.hit').first().waitFor();
  const marked = await page.locator('.snippet mark').allInnerTexts();
  assert.ok(marked.some((m) => /riluzol/i.test(m)), `riluzole highlighted, got ${marked.slice(0, 5)}`);
});

await step('suggestions: typing a drug prefix offers it in a listbox', async () => {
  if (!api.suggest) skip('this server has no GET /suggest yet');
  await page.goto(`${base}/`);
  const input = page.getByRole('combobox', { name: 'Clinical question' });
  await input.pressSequentially('ril', { delay: 30 });
  const option = page.getByRole('option').first();
  await option.waitFor();
  assert.equal(await input.getAttribute('aria-expanded'), 'true');
  await input.press('ArrowDown');
  assert.ok(await input.getAttribute('aria-activedescendant'));
  const text = await option.locator('span').first().innerText();
  await input.press('Enter');
  assert.equal((await input.inputValue()).trim(), text);
  assert.equal(await input.getAttribute('aria-expanded'), 'false');
});

await step('suggestions: none pop up over the answer once the question is asked', async () => {
  if (!api.suggest) skip('this server has no GET /suggest yet');
  await page.goto(`${base}/`);
  // Hold the suggestions until the question has been answered, as a slow /suggest would.
  const { asked, release } = holdRequests('**/suggest?*');
  try {
    const input = page.getByRole('combobox', { name: 'Clinical question' });
    await input.pressSequentially('riluzole', { delay: 20 });
    await asked;
    // The page gives the held request up as the question is asked, or takes its late answer:
    // listen for either before asking (a listener added after the give-up waited 10 s for nothing).
    const settled = requestSettled((req) => req.url().includes('/suggest?'));
    const answered = nextSearch();
    await input.press('Enter');
    await answered;
    await page.locator('article.hit').first().waitFor();
    release();
    await settled;
    // Whatever came back must not open the list over the answer.
    const opened = await page.waitForFunction(() => !document.querySelector('#suggestions').hidden, null,
      { timeout: 1000 }).then(() => true, () => false);
    assert.equal(opened, false, 'the suggestion list opened over the answer');
    assert.equal(await input.getAttribute('aria-expanded'), 'false');
  } finally {
    release();
    await page.unroute('**/suggest?*');
  }
});

await step('empty state: a question with no match says so and how to widen it', async () => {
  const answered = nextSearch();
  await page.goto(`${base}/?q=${encodeURIComponent('zqxjv wqpmz')}`);
  await answered;
  await page.getByRole('heading', { name: /No passages match/ }).waitFor();
  assert.equal(await page.locator('article.hit').count(), 0);
  assert.match(await page.locator('#status').innerText(), /No matching passages/);
});

await step('error state: a refused question shows an alert with a retry', async () => {
  expectedConsole = [...baseExpected, /status of 400/];
  try {
    const answered = nextSearch();
    await page.goto(`${base}/?q=${'a'.repeat(1100)}`);
    assert.equal((await answered).status, 400);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /cannot be run as asked/);
    await alert.getByRole('button', { name: 'Try again' }).waitFor();
  } finally {
    expectedConsole = [...baseExpected];
  }
});

await step('error on the first search of a page: no filter group without anything to choose', async () => {
  expectedConsole = [...baseExpected, /status of 500/];
  const handler = failSearch;
  await page.route('**/search?*', handler);
  try {
    await page.goto(`${base}/?q=riluzole`);  // a page load: no answer came before this one
    await page.getByRole('alert').waitFor();
    assert.ok(await page.locator('#filters').isVisible());
    const empty = await page.locator('#filters fieldset').evaluateAll((sets) => sets
      .filter((set) => set.offsetParent !== null)
      .filter((set) => ![...set.querySelectorAll('input, button')].some((c) => c.offsetParent !== null))
      .map((set) => set.querySelector('legend')?.textContent));
    assert.deepEqual(empty, [], 'filter groups shown with nothing in them');
  } finally {
    await page.unroute('**/search?*', handler);
    expectedConsole = [...baseExpected];
  }
  // An answer brings the sources.
  const answered = nextSearch();
  await page.getByRole('alert').getByRole('button', { name: 'Try again' }).click();
  await answered;
  await page.locator('#facet-source input[type=checkbox]').first().waitFor();
  assert.equal(await page.locator('#facet-source input[type=checkbox]').count(), 3);
});

await step('error after an answer: the filters drop that answer\'s counts', async () => {
  if (!api.facets) skip('GET /search on this server has no "facets" yet (the facets API has not landed)');
  await page.goto(`${base}/?q=${encodeURIComponent(ALS)}`);
  await page.locator('#facet-source [data-count]').first().waitFor();
  expectedConsole = [...baseExpected, /status of 500/];
  await page.route('**/search?*', failSearch);
  try {
    await page.locator('#facet-source input[type=checkbox]').first().check();
    await page.getByRole('alert').waitFor();
    assert.equal(await page.locator('#filters [data-count]').count(), 0, 'counts of the answer before the error');
    assert.equal(await page.locator('#facet-source input[type=checkbox]').count(), 3, 'the sources stay to choose from');
  } finally {
    await page.unroute('**/search?*', failSearch);
    expectedConsole = [...baseExpected];
  }
});

await step('error after "Show more": the alert takes the focus the button had; "Try again" goes on to the new passages', async () => {
  expectedConsole = [...baseExpected, /status of 500/];
  await page.goto(`${base}/?q=${encodeURIComponent(ALS)}`);
  await page.locator('#show-more').waitFor();
  const handler = failSearch;
  await page.route('**/search?*', handler);
  try {
    await page.locator('#show-more').focus();
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    // The button the keyboard was on is gone with the answer; the focus must not fall to the
    // top of the page, from where a keyboard or screen reader user starts over.
    const focused = await page.evaluate(() => document.activeElement?.closest('#error') ? 'error' : document.activeElement?.tagName);
    assert.equal(focused, 'error', 'the focus is in the alert');
    await page.unroute('**/search?*', handler);
    const answered = nextSearch();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Try again');
    await page.keyboard.press('Enter');
    assert.equal(new URL((await answered).url).searchParams.get('limit'), '20');
    await page.waitForFunction(() => document.activeElement?.id === 'hit-11');
  } finally {
    await page.unroute('**/search?*', handler);
    expectedConsole = [...baseExpected];
  }
});

await step('a failed "Show more" (HTTP 500, no connection) keeps the passages shown; the error and "Try again" take the button\'s place', async () => {
  expectedConsole = [...baseExpected, /status of 500/, /ERR_CONNECTION_REFUSED/];
  await page.goto(`${base}/?q=${encodeURIComponent(ALS)}`);
  await page.locator('#show-more').waitFor();
  const shown = await citedAs();
  const references = await page.locator('#references li').count();
  const status = await statusText();
  let fail = failSearch;
  const handler = (route) => fail(route);
  await page.route('**/search?*', handler);
  const failure = page.locator('nav.more').getByRole('alert');
  // What the reader had is still there, described as before, and the address still names it.
  const kept = async (after) => {
    assert.deepEqual(await citedAs(), shown, `the passages and their [n] after ${after}`);
    assert.equal(await page.locator('#references li').count(), references, `the references after ${after}`);
    assert.equal(await statusText(), status, `the status line after ${after}`);
    assert.equal(new URL(page.url()).searchParams.get('n'), null, `the address after ${after}`);
    assert.equal(await page.locator('#show-more').count(), 0, 'the box replaces the button');
  };
  try {
    await page.locator('#show-more').click();
    await failure.waitFor();
    assert.match(await failure.innerText(), /More results could not be loaded[\s\S]*the search failed/);
    await kept('HTTP 500');
    fail = (route) => route.abort('connectionrefused');
    await failure.getByRole('button', { name: 'Try again' }).click();
    await page.locator('nav.more [role=alert]', { hasText: 'cannot be reached' }).waitFor();
    await kept('no connection');
  } finally {
    await page.unroute('**/search?*', handler);
    expectedConsole = [...baseExpected];
  }
  // The server back: "Try again" shows the longer answer, from the first new passage.
  const answered = nextSearch();
  await failure.getByRole('button', { name: 'Try again' }).click();
  assert.equal(new URL((await answered).url).searchParams.get('limit'), '20');
  await page.waitForFunction(() => document.activeElement?.id === 'hit-11');
  assert.equal(new URL(page.url()).searchParams.get('n'), '20');
  assert.equal(await page.getByRole('alert').count(), 0);
  const after = await citedAs();
  for (const [id, cited] of Object.entries(shown)) assert.equal(after[id], cited, `${id} after "Try again"`);
});

await step('error state: a filter the server refuses can be removed from the page', async () => {
  expectedConsole = [...baseExpected, /status of 400/];
  try {
    // A bookmarked or hand-edited address with a filter the server does not know.
    let answered = nextSearch();
    await page.goto(`${base}/?q=riluzole&source=guideline&evidence=bogus`);
    assert.equal((await answered).status, 400);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /evidence/);
    // The filters in force are shown and each can be removed; the refused one directly.
    assert.equal(await page.locator('.active-filters .chip').count(), 2);
    answered = nextSearch();
    await alert.getByRole('button', { name: /without the evidence level filter/i }).click();
    assert.equal((await answered).status, 200);
    await page.locator('article.hit').first().waitFor();
    const url = new URL(page.url());
    assert.deepEqual(url.searchParams.getAll('evidence'), []);
    assert.deepEqual(url.searchParams.getAll('source'), ['guideline'], 'the other filters are kept');
    // A year range the wrong way round: its chip removes it.
    answered = nextSearch();
    await page.goto(`${base}/?q=riluzole&year_from=2020&year_to=2010`);
    assert.equal((await answered).status, 400);
    await page.getByRole('alert').waitFor();
    answered = nextSearch();
    await page.getByRole('button', { name: /Remove filter: Year/ }).click();
    assert.equal((await answered).status, 200);
    await page.locator('article.hit').first().waitFor();
    assert.equal(new URL(page.url()).searchParams.get('year_from'), null);
  } finally {
    expectedConsole = [...baseExpected];
  }
});

// ---- a busy server: 503 with Retry-After ---------------------------------------------------
// run.sh's second server has one worker and no queue. A connection that sends nothing holds the
// worker, and every other connection is refused at once with 503, Retry-After: 1 and code
// "overloaded", as a loaded server refuses (server.cc, BoundedPool). The page's /search requests
// are passed to that server and its answers given back to the page as they came.

// GET on the busy server over a connection of its own, closed after the answer.
function busyGet(pathAndQuery) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${busyBase}${pathAndQuery}`, { agent: false, headers: { Accept: 'application/json' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
}

// Takes the busy server's one worker; resolves, once the server refuses other clients, with a
// function that gives it back (and resolves once it has).
async function holdBusyServer() {
  for (let attempt = 0; attempt < 20; ++attempt) {
    const socket = net.connect(Number(new URL(busyBase).port), '127.0.0.1');
    let refused = false;  // the server answered this connection: it was refused, not served
    socket.on('data', () => { refused = true; });
    socket.on('close', () => { refused = true; });
    socket.on('error', () => { refused = true; });
    await new Promise((resolve) => { socket.once('connect', resolve); socket.once('error', resolve); });
    const health = await busyGet('/health');
    // A refused connection is answered within 200 ms: only one still open past that holds the worker.
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (health.status === 503 && !refused) {
      return () => new Promise((resolve) => { socket.once('close', resolve); socket.destroy(); });
    }
    socket.destroy();
  }
  throw new Error(`could not hold the worker of ${busyBase}`);
}

// Sends the page's /search requests to the busy server; returns the list of those asked
// ({at, q}) and a function that stops.
async function searchThroughBusyServer() {
  const asked = [];
  const handler = async (route) => {
    const url = new URL(route.request().url());
    asked.push({ at: Date.now(), q: url.searchParams.get('q') });
    const res = await busyGet(url.pathname + url.search);
    const headers = { 'content-type': res.headers['content-type'] ?? 'application/json' };
    if (res.headers['retry-after'] !== undefined) headers['retry-after'] = res.headers['retry-after'];
    await route.fulfill({ status: res.status, headers, body: res.body }).catch(() => {});
  };
  await page.route('**/search?*', handler);
  return { asked, stop: () => page.unroute('**/search?*', handler) };
}

// A step against the busy server: after `before` (on the test server), its one worker is held
// and the page's /search requests go to it; fn gets the requests asked, free() (gives the
// worker back) and hold() (takes it again); both may be repeated. Everything is given back at
// the end, however the step ends.
function busyStep(name, fn, before = async () => {}) {
  return step(name, async () => {
    if (!busyBase) skip('no MEDSEARCH_BUSY_URL (tests/browser/run.sh starts that server)');
    expectedConsole = [...baseExpected, /status of 503/];
    await before();
    let release = await holdBusyServer();
    const free = async () => {
      const r = release;
      release = null;
      await r?.();
    };
    const hold = async () => {
      await free();
      release = await holdBusyServer();
    };
    const { asked, stop } = await searchThroughBusyServer();
    try {
      await fn({ asked, free, hold });
    } finally {
      await free();
      await stop();
      expectedConsole = [...baseExpected];
    }
  });
}

const waitForStatus = (re, timeout = STEP_TIMEOUT_MS) => page.waitForFunction(
  (source) => new RegExp(source).test(document.querySelector('#status').textContent), re.source, { timeout });
// Resolves true if the page asks /search (for `q`, when given) within `ms`, false otherwise.
const searchAskedWithin = (ms, q) => page.waitForRequest((req) => new URL(req.url()).pathname === '/search' &&
  (q === undefined || new URL(req.url()).searchParams.get('q') === q), { timeout: ms }).then(() => true, () => false);

await busyStep('busy server (503, Retry-After: 1): the status line says so, the page asks once more by itself, then offers "Try again"', async ({ asked, free }) => {
  const refused = nextSearch();
  await page.goto(`${base}/?q=riluzole`);
  assert.equal((await refused).status, 503);
  // Announced in the live status line (role=status), with the server's wait in it.
  await waitForStatus(/server is busy/);
  assert.equal(await page.getByRole('status').innerText(), 'The server is busy. Trying again in 1 second.');
  const box = page.locator('#busy');
  assert.match(await box.innerText(), /The server is busy/);
  assert.match(await box.locator('#retry-countdown').innerText(), /^Trying again/);
  await box.getByRole('button', { name: 'Try again now' }).waitFor();
  assert.equal(await page.getByRole('alert').count(), 0, 'a wait, not an error alert');
  await page.screenshot({ path: path.join(artifacts, 'search-busy.png') });
  // The one automatic retry, after Retry-After; the worker is still held, so refused too.
  await waitForStatus(/still busy/, 5000);
  assert.equal(asked.length, 2, `asked ${asked.length} times`);
  const waited = asked[1].at - asked[0].at;
  assert.ok(waited >= 900, `asked again after ${waited} ms; Retry-After said 1 s`);
  assert.match(await statusText(), /still busy.*Try again/);
  // Once only: it does not go on asking by itself.
  assert.equal(await searchAskedWithin(2500), false, 'asked a third time by itself');
  // "Try again" once the server has a free worker: the answer.
  await free();
  const answered = nextSearch();
  await page.locator('#busy').getByRole('button', { name: 'Try again' }).click();
  assert.equal((await answered).status, 200);
  await page.locator('article.hit').first().waitFor();
  assert.match(await statusText(), /matching record/);
  assert.equal(await page.locator('#busy').count(), 0);
});

await busyStep('busy server: the automatic retry shows the answer once the server is free', async ({ asked, free }) => {
  const refused = nextSearch();
  await page.goto(`${base}/?q=${encodeURIComponent(ALS)}`);
  assert.equal((await refused).status, 503);
  await waitForStatus(/server is busy/);
  await free();
  const answered = nextSearch();
  assert.equal((await answered).status, 200, 'asked again by itself');
  await page.locator('section.group-research .hit').first().waitFor();
  assert.deepEqual(await groupHeadings(), GROUPS);
  assert.equal(asked.length, 2);
  assert.ok(asked[1].at - asked[0].at >= 900, 'after Retry-After');
  assert.equal(new URL(page.url()).searchParams.get('q'), ALS);
});

await busyStep('busy server after "Show more": the passages shown stay, the wait takes the button\'s place, the retry extends them', async ({ asked, free }) => {
  const refused = nextSearch();
  await page.locator('#show-more').click();
  assert.equal((await refused).status, 503);
  await page.locator('nav.more #busy').waitFor();
  assert.equal(await page.locator('article.hit').count(), 10, 'the passages shown stay');
  assert.equal(new URL(page.url()).searchParams.get('n'), null, 'the address names the answer on screen');
  await waitForStatus(/server is busy/);
  await free();
  const answered = await nextSearch();
  assert.equal(answered.status, 200, 'asked again by itself');
  assert.equal(asked.length, 2);
  assert.equal(new URL(answered.url).searchParams.get('limit'), '20');
  await page.waitForFunction(() => document.activeElement?.id === 'hit-11');
  assert.equal(await page.locator('article.hit').count(), 20);
  assert.equal(new URL(page.url()).searchParams.get('n'), '20');
  assert.equal(await page.locator('#busy').count(), 0);
}, async () => {
  await page.goto(`${base}/?q=${encodeURIComponent(ALS)}`);
  await page.locator('#show-more').waitFor();
});

await busyStep('busy server: another question or Back cancels the automatic retry', async ({ asked, free, hold }) => {
  const input = page.getByRole('combobox', { name: 'Clinical question' });
  // Another question while the page waits to ask again.
  let refused = nextSearch();
  await input.fill('riluzole');
  await input.press('Enter');
  assert.equal((await refused).status, 503);
  await waitForStatus(/server is busy/);
  await free();
  let answered = nextSearch();
  await input.fill('asthma');
  await input.press('Enter');
  assert.equal((await answered).status, 200);
  await page.locator('article.hit').first().waitFor();
  assert.equal(await searchAskedWithin(2000, 'riluzole'), false, 'the retry of "riluzole" was sent after "asthma"');
  assert.deepEqual(asked.map((a) => a.q), ['riluzole', 'asthma']);
  assert.equal(new URL(page.url()).searchParams.get('q'), 'asthma');
  // Back while the page waits to ask again.
  await hold();
  refused = nextSearch();
  await input.fill('riluzole');
  await input.press('Enter');
  assert.equal((await refused).status, 503);
  await waitForStatus(/server is busy/);
  await free();
  answered = nextSearch();
  await page.goBack();
  assert.equal(new URL((await answered).url).searchParams.get('q'), 'asthma');
  await page.locator('article.hit').first().waitFor();
  assert.equal(await searchAskedWithin(2000, 'riluzole'), false, 'the retry of "riluzole" was sent after Back');
}, async () => {
  await page.goto(`${base}/?q=metformin`);
  await page.locator('article.hit').first().waitFor();
});

await step('busy server: a long Retry-After is capped at 30 s; a 503 without one is an error, not a wait', async () => {
  expectedConsole = [...baseExpected, /status of 503/];
  // Answers this test's servers do not give (a Retry-After of an hour, a 503 without one): made
  // up with route().
  let answer = null;
  const handler = (route) => route.fulfill(answer);
  await page.route('**/search?*', handler);
  try {
    answer = { status: 503, headers: { 'content-type': 'application/json', 'retry-after': '3600' },
      body: JSON.stringify({ error: { code: 'overloaded', message: 'the server is busy' } }) };
    await page.goto(`${base}/?q=riluzole`);
    await waitForStatus(/server is busy/);
    assert.equal(await statusText(), 'The server is busy. Trying again in 30 seconds.');
    assert.match(await page.locator('#retry-countdown').innerText(), /in (30|29) seconds/);
    // An index that cannot be opened: no Retry-After, nothing to wait for.
    answer = { status: 503, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: { code: 'unavailable', message: 'the index cannot be opened' } }) };
    const input = page.getByRole('combobox', { name: 'Clinical question' });
    await input.fill('metformin');
    await input.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /index is not available/);
    assert.equal(await page.locator('#retry-countdown').count(), 0);
    assert.equal(await searchAskedWithin(1500), false, 'asked again by itself');
  } finally {
    await page.unroute('**/search?*', handler);
    expectedConsole = [...baseExpected];
  }
});

await step('Back to the landing page while a search is on its way: its late answer does not replace the page', async () => {
  await page.goto(`${base}/`);
  await page.getByRole('heading', { name: 'Ask a clinical question' }).waitFor();
  // Hold the answer until the reader has gone Back, as a slow server would.
  const { asked, release } = holdRequests('**/search?*');
  try {
    const input = page.getByRole('combobox', { name: 'Clinical question' });
    await input.fill('riluzole');
    await input.press('Enter');
    await asked;
    // Ends when the page gives the request up (at Back, once it does) or its answer arrives.
    const settled = requestSettled((req) => new URL(req.url()).pathname === '/search');
    await page.goBack();
    await page.getByRole('heading', { name: 'Ask a clinical question' }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get('q'), null);
    release();
    await settled;
    const replaced = await page.waitForFunction(() => document.querySelector('article.hit, #error'), null,
      { timeout: 1000 }).then(() => true, () => false);
    assert.equal(replaced, false, 'the answer to "riluzole" replaced the landing page');
    assert.equal(await page.getByRole('heading', { name: 'Ask a clinical question' }).count(), 1);
    assert.equal(await page.locator('#q').inputValue(), '');
  } finally {
    release();
    await page.unroute('**/search?*');
  }
});

// With --partial-results and a shard down, /search, /suggest and /stats answer from the other
// shards with "partial": true and "missing_shards". This harness serves one database, so the
// answer is the real server's (route.fetch()) with the two fields added, as a sharded server
// adds them.
const MISSING_SHARD = 'tcp://10.0.0.2:7001';
async function answerPartially(route) {
  const real = await route.fetch();
  const body = await real.json();
  assert.equal(body.partial, undefined, 'the test server answers whole');
  await route.fulfill({ response: real, json: { ...body, partial: true, missing_shards: [MISSING_SHARD] } });
}

await step('partial answer (a shard down): a notice by the result count and in the status line, gone on a whole answer', async () => {
  let partialAnswers = 0;
  const handler = (route) => {
    partialAnswers += 1;
    return answerPartially(route);
  };
  await page.route('**/search?*', handler);
  try {
    await page.goto(`${base}/?q=riluzole`);
    await page.locator('article.hit').first().waitFor();
    assert.equal(partialAnswers, 1);
    const notice = page.locator('#partial-notice');
    await notice.waitFor();
    assert.equal(await notice.innerText(),
      `Part of the index did not answer (shard ${MISSING_SHARD}): results may be incomplete.`);
    // In the live status line (what a screen reader announces), after the count.
    assert.equal(await page.locator('[role=status] #partial-notice').count(), 1);
    assert.match(await statusText(), /About \d+ matching records?[\s\S]*Part of the index did not answer/);
    assert.equal(await page.getByRole('alert').count(), 0, 'a partial answer is not an error');
  } finally {
    await page.unroute('**/search?*', handler);
  }
  // The same question answered whole: no notice.
  const answered = nextSearch();
  const input = page.getByRole('combobox', { name: 'Clinical question' });
  await input.fill('metformin');
  await input.press('Enter');
  assert.equal((await answered).body?.partial, undefined);
  await waitForStatus(/matching record/);
  assert.equal(await page.locator('#partial-notice').count(), 0);
  assert.doesNotMatch(await statusText(), /did not answer/);
});

// /stats and /suggest are partial the same way (server/openapi.json); the page shows /stats on
// the landing page and /suggest as the question box's suggestions.
await step('partial /stats (a shard down): the landing page\'s counts say so, in the status line too; nothing when whole', async () => {
  const corpus = page.locator('#corpus-size');
  const counted = () => page.waitForFunction(() => /records/.test(document.querySelector('#corpus-size')?.textContent ?? ''));
  await page.route('**/stats', answerPartially);
  try {
    await page.goto(`${base}/`);
    await counted();
    assert.match(await corpus.innerText(), /^The index holds \d+ records in \d+ passages in the shards that answered\.$/);
    // In the live status line (what a screen reader announces), as for a partial /search.
    assert.equal(await page.locator('[role=status] .partial-notice').innerText(),
      `Part of the index did not answer (shard ${MISSING_SHARD}): its records are not counted.`);
    assert.equal(await page.getByRole('alert').count(), 0, 'a partial answer is not an error');
  } finally {
    await page.unroute('**/stats', answerPartially);
  }
  await page.goto(`${base}/`);
  await counted();
  assert.match(await corpus.innerText(), /^The index holds \d+ records in \d+ passages\.$/);
  assert.equal(await page.locator('.partial-notice').count(), 0);
  assert.equal(await statusText(), '');
});

await step('partial /suggest (a shard down): the suggestions say so, read out; nothing when whole', async () => {
  if (!api.suggest) skip('this server has no GET /suggest yet');
  const input = page.getByRole('combobox', { name: 'Clinical question' });
  const note = page.locator('#suggest-status');
  await page.route('**/suggest?*', answerPartially);
  try {
    await page.goto(`${base}/`);
    await input.pressSequentially('ril', { delay: 30 });
    await page.getByRole('option').first().waitFor();
    assert.equal(await note.innerText(),
      `Part of the index did not answer (shard ${MISSING_SHARD}): suggestions may be incomplete.`);
    assert.equal(await note.getAttribute('aria-live'), 'polite', 'a live region: read out as it appears');
    assert.ok(await note.isVisible());
    await input.press('Escape');
    assert.equal(await note.innerText(), '', 'gone with the list');
  } finally {
    await page.unroute('**/suggest?*', answerPartially);
  }
  await input.fill('');
  await input.pressSequentially('ril', { delay: 30 });
  await page.getByRole('option').first().waitFor();
  assert.equal(await page.locator('.partial-notice').count(), 0);
  await input.press('Escape');
});

await step('phone width: one column, filters behind a button, no sideways scrolling', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/?q=${encodeURIComponent(ALS)}`);
  await page.locator('section.group-research .hit').first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
  const toggle = page.locator('#filters-toggle');
  assert.ok(await toggle.isVisible());
  assert.ok(!(await page.locator('#filters').isVisible()));
  await toggle.click();
  assert.ok(await page.locator('#filters').isVisible());
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await toggle.click();
  const file = path.join(artifacts, 'search-als-phone.png');
  await page.screenshot({ path: file, fullPage: false });
  console.log(`      screenshot: ${file}`);
  await page.setViewportSize({ width: 1280, height: 900 });
});

// tests/fixtures/web.jsonl (indexed by run.sh beside the samples): records about the made-up
// drug qwixtamab whose titles, headings, text and citations hold markup and script, one in
// Arabic and Hebrew, one with a 140-character word.
const HOSTILE = 'qwixtamab';

await step('records with markup and script: shown as text, nothing runs, links stay safe', async () => {
  const answered = nextSearch();
  await page.goto(`${base}/?q=${HOSTILE}`);
  const body = (await answered).body;
  assert.ok(body.hits.length >= 3, `the web.jsonl fixture is indexed (got ${body.hits.length} hits)`);
  await page.locator('article.hit').first().waitFor();
  await page.locator('#references li').first().waitFor();
  assert.equal(await page.evaluate(() => window.__medsearchPwned), undefined, 'no script from the data ran');
  // Only the page's own elements: no element named in the data was created.
  assert.equal(await page.locator('#content img, #content script, #content svg, #content b, #content i, #content h1').count(), 0);
  assert.equal(await page.locator('#filters img, #filters script, #filters b, #filters i').count(), 0);
  assert.equal(await page.locator('.snippet *:not(mark)').count(), 0);
  // The markup is shown as the text it is.
  const research = page.locator('article.hit', { hasText: 'Qwixtamab <script>' });
  assert.equal(await research.count(), 1, 'the title with markup is shown as text');
  assert.match(await research.locator('.hit-meta').innerText(), /<b>Results<\/b><script>/);
  assert.match(await page.locator('#references').innerText(), /<a href="javascript:window.__medsearchPwned=6">click<\/a>/);
  const label = page.locator('article.hit', { hasText: 'Not a heading' });
  assert.match(await label.locator('.snippet').innerText(), /<mark>not a highlight<\/mark>/);
  assert.equal(await label.locator('.snippet mark', { hasText: 'not a highlight' }).count(), 0);
  // Links: only http(s) addresses, identifiers percent-encoded; javascript: is never a link.
  const hrefs = await page.locator('#references a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  for (const href of hrefs) assert.match(href, /^(#(hit|ref)-\d+|https?:\/\/\S+)$/, href);
  assert.ok(!hrefs.some((h) => /javascript:/i.test(h)), 'no javascript: link');
  assert.ok(hrefs.some((h) => h.startsWith('https://pubmed.ncbi.nlm.nih.gov/12345%22%3E%3Cscript')), 'PMID link encoded');
  // Facet values from the data are text too, and can be ticked.
  const drugLabels = await page.locator('#facet-drug .facet-value').allInnerTexts();
  assert.ok(drugLabels.includes('<b>qwixtamab</b>'), `drug facets: ${drugLabels}`);
  assert.deepEqual(consoleErrors, []);
});

await step('a drug name with a comma: the filter survives reload, Back and Forward', async () => {
  const drug = 'qwixtamab, extended release';
  await page.goto(`${base}/?q=${HOSTILE}`);
  await page.locator('article.hit').first().waitFor();
  const box = page.locator(`#facet-drug input[data-key="drug:${drug}"]`);
  let answered = nextSearch();
  await box.check();
  const filtered = (await answered).body;
  assert.equal(filtered.hits.length, 1);
  const chips = async () => page.locator('.active-filters .chip').allInnerTexts();
  assert.deepEqual(await chips(), [`Drug: ${drug} ×`]);
  answered = nextSearch();
  await page.reload();
  const reloaded = await answered;
  assert.deepEqual(new URL(reloaded.url).searchParams.getAll('drug'), [drug], 'the same filter is asked for');
  assert.equal(reloaded.body.hits.length, 1);
  await page.locator('article.hit').first().waitFor();
  assert.deepEqual(await chips(), [`Drug: ${drug} ×`]);
  answered = nextSearch();
  await page.goBack();
  await answered;
  answered = nextSearch();
  await page.goForward();
  assert.deepEqual(new URL((await answered).url).searchParams.getAll('drug'), [drug]);
});

await step('right-to-left text: the question box, titles and passages take their own direction', async () => {
  await page.goto(`${base}/?q=${HOSTILE}`);
  const hit = page.locator('article.hit', { hasText: 'إرشادات' });
  await hit.waitFor();
  const direction = (locator) => locator.evaluate((e) => getComputedStyle(e).direction);
  assert.equal(await direction(hit.locator('.hit-title > span').first()), 'rtl', 'an Arabic title runs right to left');
  assert.equal(await direction(hit.locator('.snippet')), 'rtl', 'an Arabic passage runs right to left');
  assert.equal(await direction(page.locator('.ref-citation', { hasText: 'الجمعية' })), 'rtl');
  // Each part of the line under the title keeps its place: section, source, year from left to
  // right, as for any other passage (unisolated, the Arabic parts swapped and the year led).
  const left = (locator) => locator.evaluate((e) => e.getBoundingClientRect().left);
  const parts = hit.locator('.hit-meta > span:not(.sep)');
  assert.equal(await parts.count(), 3);
  assert.ok(await left(parts.nth(0)) < await left(parts.nth(1)), 'section before source');
  assert.ok(await left(parts.nth(1)) < await left(parts.nth(2)), 'source before year');
  const input = page.getByRole('combobox', { name: 'Clinical question' });
  await input.fill('ما هو علاج التصلب الجانبي الضموري؟');
  assert.equal(await direction(input), 'rtl', 'an Arabic question is typed right to left');
  await input.fill(ALS);
  assert.equal(await direction(input), 'ltr');
});

await step('phone width 375px: long words wrap in passages, titles, headings and notices', async () => {
  await page.setViewportSize({ width: 375, height: 740 });
  try {
    const sideways = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await page.goto(`${base}/?q=${HOSTILE}`);
    await page.locator('article.hit').first().waitFor();
    for (const summary of await page.locator('details.full-text summary').all()) await summary.click();
    assert.ok(await page.locator('details.full-text[open]').count() >= 1, 'a full passage was opened');
    assert.ok((await sideways()) <= 0, `the answer is ${await sideways()}px wider than the phone`);
    const word = 'pneumonoultramicroscopicsilicovolcanoconiosis'.repeat(2);
    const empty = nextSearch();
    await page.goto(`${base}/?q=${word}`);
    await empty;
    await page.locator('#empty-heading').waitFor();
    assert.ok((await sideways()) <= 0, `the empty state is ${await sideways()}px wider than the phone`);
    const corrected = nextSearch();
    await page.goto(`${base}/?q=${encodeURIComponent(`riluzle ${word}`)}`);
    if ((await corrected).body?.spelling?.suggestion) {
      await page.locator('#did-you-mean').waitFor();
      assert.ok((await sideways()) <= 0, `"Did you mean" is ${await sideways()}px wider than the phone`);
    }
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
});

await step('no console errors and no requests off this server', async () => {
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(offsite, []);
});

await browser.close();

const failed = results.filter((r) => r.status === 'FAIL');
const skipped = results.filter((r) => r.status === 'SKIP');
console.log(`\n${results.length - failed.length - skipped.length} passed, ${skipped.length} skipped, ${failed.length} failed`);
for (const s of skipped) console.log(`  skipped: ${s.name}: ${s.reason}`);
process.exit(failed.length ? 1 : 0);
