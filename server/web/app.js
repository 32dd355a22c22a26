// medsearch's web page: reads the question and filters from the address, asks GET /search,
// and renders the answer in three groups with numbered references, filters with counts,
// "did you mean" and more results. Plain ES module, no dependencies, no build step.
//
// Every string from the server is inserted as text. The one exception is the snippet, which
// the server sends HTML-escaped with <mark> around matched terms: it is split on the <mark>
// tags and its entities decoded, so it too becomes text nodes and <mark> elements, never HTML.
// Titles, passages, citations and names sit in elements with dir="auto" (or a <bdi>): Arabic
// or Hebrew text runs right to left without reordering the page's own text around it.

const PAGE_SIZE = 10;       // records per "page"; "Show more" adds this many
const MAX_LIMIT = 100;      // the server's kMaxLimit
const FACET_VISIBLE = 8;    // values shown per filter before "Show all"
const SUGGEST_DELAY_MS = 120;
const MAX_RETRY_AFTER_S = 30;   // the longest a busy server's Retry-After makes the page wait
const BUSY_RETRY_S = 5;         // when a busy server (503 overloaded) names no Retry-After

const SOURCES = [
  { value: 'guideline', label: 'Guidelines', group: 'From the Guidelines', empty: 'No guideline passages match.' },
  { value: 'fda_label', label: 'FDA drug labels', group: 'From the FDA Drug Label', empty: 'No FDA drug label passages match.' },
  { value: 'research', label: 'Research', group: 'From the Research', empty: 'No research passages match.' },
];

// Fallback names for values the server sends without a label (hits carry bare values).
const EVIDENCE_LABELS = {
  practice_guideline: 'Practice guideline',
  randomized_controlled_trial: 'Randomised controlled trial',
  clinical_trial: 'Clinical trial',
  meta_analysis: 'Meta-analysis',
  systematic_review: 'Systematic review',
  observational: 'Observational study',
  case_report: 'Case report',
  review: 'Review',
  other: 'Other',
};

const EXAMPLES = [
  'What are the treatment options for ALS?',
  'apixaban dose reduction in atrial fibrillation',
  'metformin in reduced kidney function',
  'first-line treatment of plaque psoriasis',
  'SGLT2 inhibitors in heart failure',
];

// Filters that live in the address as repeatable parameters; each is sent to /search under
// the same name. `facet` is the key of its counts in the response's `facets`.
const LIST_FILTERS = [
  { param: 'source', facet: 'source', name: 'Source' },
  { param: 'drug', facet: 'drug', name: 'Drug' },
  { param: 'section', facet: 'section', name: 'Section' },
  { param: 'evidence', facet: 'evidence_level', name: 'Evidence level' },
];

const $ = (selector, root = document) => root.querySelector(selector);

// ---- small DOM helpers --------------------------------------------------------------------

// el('p', {class: 'x', text: 'hello'}, child, ...): attributes are set as attributes
// (strings only), `text` as textContent; children are nodes or strings (as text).
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function srOnly(text) {
  return el('span', { class: 'visually-hidden', text });
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name] ?? whole;
  });
}

// Appends the snippet's text to `parent`, with <mark> elements for the matched terms.
function appendSnippet(parent, html) {
  let mark = null;
  for (const part of String(html).split(/(<mark>|<\/mark>)/)) {
    if (part === '<mark>') {
      mark = el('mark');
      parent.append(mark);
    } else if (part === '</mark>') {
      mark = null;
    } else if (part) {
      (mark ?? parent).append(document.createTextNode(decodeEntities(part)));
    }
  }
}

function humanize(value) {
  const text = String(value).replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function formatCount(n) {
  return Number(n).toLocaleString('en-US');
}

function ordinal(n) {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th');
  return `${formatCount(n)}${suffix}`;
}

function externalLink(href, text, label) {
  return el('a', { href, class: 'external', target: '_blank', rel: 'noopener noreferrer', 'aria-label': label },
    text);
}

// ---- state in the address -----------------------------------------------------------------

function emptyState() {
  return { q: '', source: [], drug: [], section: [], evidence: [], year_from: '', year_to: '', n: PAGE_SIZE, start: 0 };
}

function readState(search = location.search) {
  const params = new URLSearchParams(search);
  const state = emptyState();
  state.q = (params.get('q') ?? '').trim();
  for (const { param } of LIST_FILTERS) {
    // Drug names may contain commas ("qwixtamab, extended release"): the page repeats `drug`,
    // as /search does; the other lists also accept comma-separated values, as /search does.
    const split = param === 'drug' ? (v) => [v] : (v) => v.split(',');
    const values = params.getAll(param).flatMap(split).map((v) => v.trim()).filter(Boolean);
    state[param] = [...new Set(values)];
  }
  state.source = state.source.filter((s) => SOURCES.some((known) => known.value === s));
  for (const key of ['year_from', 'year_to']) {
    const year = params.get(key) ?? '';
    state[key] = /^\d{1,4}$/.test(year) ? year : '';
  }
  // Whole pages only: the server numbers references ten hits at a time (README, GET /search),
  // so a hand-edited n=15 would renumber hits 11-15 once "Show more" asked for 25.
  const n = parseInt(params.get('n') ?? '', 10);
  state.n = Number.isFinite(n) ? Math.min(Math.ceil(Math.max(n, 1) / PAGE_SIZE) * PAGE_SIZE, MAX_LIMIT) : PAGE_SIZE;
  const start = parseInt(params.get('start') ?? '', 10);
  state.start = Number.isFinite(start) && start > 0 ? Math.min(start, 10000) : 0;
  return state;
}

// The page's own address for a state: only what differs from the defaults.
function pageUrl(state) {
  const params = new URLSearchParams();
  if (state.q) params.set('q', state.q);
  for (const { param } of LIST_FILTERS) for (const value of state[param]) params.append(param, value);
  if (state.year_from) params.set('year_from', state.year_from);
  if (state.year_to) params.set('year_to', state.year_to);
  if (state.n !== PAGE_SIZE) params.set('n', String(state.n));
  if (state.start) params.set('start', String(state.start));
  const query = params.toString();
  return query ? `?${query}` : location.pathname;
}

function apiUrl(state) {
  const params = new URLSearchParams({ q: state.q, limit: String(state.n), offset: String(state.start), facets: '1' });
  for (const { param } of LIST_FILTERS) for (const value of state[param]) params.append(param, value);
  if (state.year_from) params.set('year_from', state.year_from);
  if (state.year_to) params.set('year_to', state.year_to);
  return `search?${params}`;
}

function activeFilterCount(state) {
  return LIST_FILTERS.reduce((n, { param }) => n + state[param].length, 0) +
    (state.year_from || state.year_to ? 1 : 0);
}

function withState(changes) {
  // Any change of question or filters starts again at the first results.
  return { ...current, n: PAGE_SIZE, start: 0, ...changes };
}

// ---- searching ----------------------------------------------------------------------------

let current = emptyState();
let lastResponse = null;
let inflight = null;
let retry = null;  // the automatic retry a busy server's 503 scheduled: { timer, tick }

function cancelRetry() {
  if (!retry) return;
  clearTimeout(retry.timer);
  clearInterval(retry.tick);
  retry = null;
}

// Writes `state` to the address: a step in the history, unless it is the search already there
// (asked again, it is answered again but is not a second step for Back).
function remember(state) {
  const url = pageUrl(state);
  if (url === (location.search || location.pathname)) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
}

// Shows `state`: pushes it to the history when `push`, then searches. `focus` says where the
// keyboard focus goes once the answer is shown: 'results', 'hit:<rank>' or 'keep'. `automatic`
// marks the one retry the page makes by itself after a 503 with Retry-After. `more` is the
// state of the answer on screen when `state` extends it ("Show more"): that answer stays if
// the longer one does not come, and so does its address, which changes only once it has come.
async function go(state, { push = true, focus = 'keep', automatic = false, more = null } = {}) {
  // Whatever the reader does next (another question, a filter, Back) replaces the retry.
  cancelRetry();
  // Asked from a control in the answer ("Show more", "Try again"), which an error replaces.
  const fromContent = $('#content').contains(document.activeElement);
  current = state;
  if (push && !more) remember(state);
  syncForm(state);
  document.title = state.q ? `${state.q} – medsearch` : 'medsearch';
  // A search still on its way is for an earlier state: its answer must not replace this one
  // (Back to the landing page used to be overwritten by the question it left).
  inflight?.abort();
  inflight = null;
  if (!state.q) {
    lastResponse = null;
    showLanding();
    return;
  }
  const controller = new AbortController();
  inflight = controller;
  showLoading(state);
  let response;
  try {
    const res = await fetch(apiUrl(state), { signal: controller.signal, headers: { Accept: 'application/json' } });
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok || !body || body.error) {
      const error = body?.error ?? { code: `http_${res.status}`, message: `The server answered HTTP ${res.status}.` };
      throw Object.assign(new Error(error.message), { api: error, status: res.status,
        retryAfter: res.status === 503 ? retryAfterSeconds(res.headers.get('Retry-After'), error.code) : null });
    }
    response = body;
  } catch (error) {
    if (controller.signal.aborted) return;
    inflight = null;
    const how = { focus, automatic, fromContent, more };
    if (error.retryAfter !== null && error.retryAfter !== undefined) showBusy(state, error, how);
    else showError(state, error, how);
    return;
  }
  if (controller.signal.aborted) return;
  inflight = null;
  if (push && more) remember(state);
  lastResponse = response;
  showResults(state, response, focus);
}

// The box always shows the question of the answer on screen, also after Back or Forward
// with the keyboard still in it.
function syncForm(state) {
  $('#q').value = state.q;
  $('#year-from').value = state.year_from;
  $('#year-to').value = state.year_to;
}

function setBusy(busy) {
  $('#results').setAttribute('aria-busy', busy ? 'true' : 'false');
  $('#content').classList.toggle('stale', busy);
}

// ---- the states of the page ---------------------------------------------------------------

function showLanding() {
  setBusy(false);
  $('#results-heading').textContent = 'Search medsearch';
  $('#status').replaceChildren();
  $('#filters').hidden = true;
  $('#filters-toggle').hidden = true;
  const examples = el('ul', { class: 'examples' },
    EXAMPLES.map((q) => el('li', {}, el('a', { href: pageUrl({ ...emptyState(), q }), dataset: { q }, text: q }))));
  examples.addEventListener('click', (event) => {
    const link = event.target.closest('a[data-q]');
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    go({ ...emptyState(), q: link.dataset.q }, { focus: 'results' });
  });
  const corpus = el('p', { class: 'hint', id: 'corpus-size' });
  $('#content').replaceChildren(
    el('section', { class: 'landing', 'aria-labelledby': 'landing-heading' },
      el('h2', { id: 'landing-heading', text: 'Ask a clinical question' }),
      el('p', { text: 'Answers are passages quoted from clinical guidelines, FDA drug labels and research papers, ' +
        'grouped by source, each with a numbered reference to its full citation.' }),
      el('h3', { text: 'Try' }),
      examples,
      corpus));
  fetch('stats').then((r) => (r.ok ? r.json() : null)).then((stats) => {
    // A search may have taken the landing page's place, and its status line, meanwhile.
    if (!corpus.isConnected || !stats || !Number.isFinite(stats.records)) return;
    // Counts from a sharded server with a shard down leave that shard out: the line says so,
    // and the status line, which a screen reader announces, says which, as for /search.
    const partial = partialNotice(stats, 'its records are not counted', 'partial-notice');
    corpus.textContent = `The index holds ${formatCount(stats.records)} records in ` +
      `${formatCount(stats.passages)} passages${partial ? ' in the shards that answered' : ''}.`;
    if (partial) $('#status').replaceChildren(partial);
  }).catch(() => {});
}

function showLoading(state) {
  setBusy(true);
  $('#results-heading').textContent = `Results for “${state.q}”`;
  $('#status').replaceChildren(el('span', { class: 'spinner', 'aria-hidden': 'true' }), ' Searching…');
  $('#filters').hidden = false;
  $('#filters-toggle').hidden = false;
  if (!lastResponse) $('#content').replaceChildren();
}

// How long a 503 asks the client to wait, in whole seconds (0 to MAX_RETRY_AFTER_S), from its
// Retry-After (seconds or an HTTP date); null when it is not a busy server's answer (an index
// that cannot be opened sends no Retry-After: waiting would not help).
function retryAfterSeconds(header, code) {
  const value = (header ?? '').trim();
  let seconds = null;
  if (/^\d+$/.test(value)) seconds = Number(value);
  else if (value && Number.isFinite(Date.parse(value))) seconds = Math.ceil((Date.parse(value) - Date.now()) / 1000);
  else if (code === 'overloaded' || code === 'deadline_exceeded') seconds = BUSY_RETRY_S;
  return seconds === null ? null : Math.min(Math.max(seconds, 0), MAX_RETRY_AFTER_S);
}

function secondsText(n) {
  return `${n} ${n === 1 ? 'second' : 'seconds'}`;
}

// A busy server (503 with Retry-After): says so in the status line, which screen readers
// announce, and asks again once by itself after Retry-After seconds (capped), counting down
// on screen; "Try again now" does not wait. If that one retry is refused too, it stops and
// leaves the button: a page that kept retrying would add to the load that refused it.
function showBusy(state, error, { focus, automatic, fromContent, more }) {
  setBusy(false);
  const seconds = error.retryAfter;
  // The keyboard may be on the button this box replaces: then it goes to the results.
  const focusAfter = () => (focus.startsWith('hit:') ? focus
    : $('#content').contains(document.activeElement) ? 'results' : focus);
  const again = el('button', { type: 'button', class: 'secondary', id: 'retry-now',
    text: automatic ? 'Try again' : 'Try again now', onclick: () => askAgain(state, { focus, more }) });
  const countdown = automatic ? null : el('p', { class: 'countdown', id: 'retry-countdown' });
  const box = el('div', { class: 'error-box busy-box', id: 'busy' },
    el('h2', { text: automatic ? 'The server is still busy' : 'The server is busy' }),
    el('p', { text: automatic
      ? 'medsearch-server could not take this search when it was asked again either. Try again in a moment.'
      : 'medsearch-server is answering as many searches as it can take right now.' }),
    countdown,
    el('p', { class: 'hint', text: `Error code: ${error.api?.code ?? `http_${error.status}`}` }),
    el('div', { class: 'error-actions' }, again));
  placeFailure(state, box, { fromContent, more });
  const status = $('#status');
  if (automatic) {
    status.textContent = 'The server is still busy. Use “Try again” when you are ready.';
    return;
  }
  // Announced once; the countdown below it is on screen, not read out every second.
  status.textContent = seconds > 0
    ? `The server is busy. Trying again in ${secondsText(seconds)}.`
    : 'The server is busy. Trying again now.';
  let left = seconds;
  const show = () => { countdown.textContent = left > 0 ? `Trying again in ${secondsText(left)}…` : 'Trying again…'; };
  show();
  const tick = setInterval(() => { left = Math.max(left - 1, 0); show(); }, 1000);
  const timer = setTimeout(() => {
    cancelRetry();
    askAgain(state, { focus: focusAfter(), more, automatic: true });
  }, seconds * 1000);
  retry = { timer, tick };
}

// The control the keyboard was on, in the answer, went with it: the focus would fall to the
// top of the page, from where a keyboard or screen reader user starts over. It goes to `box`,
// which says what happened and holds the buttons to go on.
function keepFocus(box, fromContent) {
  const active = document.activeElement;
  if (!fromContent || (active && active !== document.body)) return;
  box.setAttribute('tabindex', '-1');
  box.focus();
}

// Asks for `state` again, from a failure's button or (`automatic`) a busy server's retry. From
// a button, which goes with its box, the focus goes to the results, or after "Show more" on
// to the first new passage. The address already names `state`, unless it extends the answer
// on screen (`more`): then it is written once the longer answer comes.
function askAgain(state, { focus, more, automatic = false }) {
  go(state, { push: Boolean(more), focus: automatic || focus.startsWith('hit:') ? focus : 'results', automatic, more });
}

// Shows a failure's box. After "Show more" (`more`, the state of the answer on screen) it
// takes the place of the button (or of the box of an earlier failure there), under the
// answer, which stays with its status line; otherwise it replaces the answer.
function placeFailure(state, box, { fromContent, more }) {
  const slot = more ? $('#content').querySelector('#show-more, .more-failure') : null;
  if (slot) {
    current = more;
    showStatus(more, lastResponse);
    box.classList.add('more-failure');
    slot.replaceWith(box);
  } else {
    lastResponse = null;
    $('#status').replaceChildren();
    $('#content').replaceChildren(...[renderActiveFilters(state), box].filter(Boolean));
    // The counts beside the filters were the last answer's: not this search's, which has none.
    renderFilters(state, null);
  }
  keepFocus(box, fromContent);
}

function showError(state, error, { focus = 'keep', fromContent = false, more = null } = {}) {
  setBusy(false);
  const api = error.api;
  let title = 'The search could not be completed';
  let detail;
  if (!api) {
    title = 'The medsearch server cannot be reached';
    detail = 'Check that medsearch-server is running, then try again.';
  } else if (api.code === 'invalid_argument' || api.code === 'parse') {
    title = 'This search cannot be run as asked';
    detail = api.message;
  } else if (api.code === 'unavailable') {
    title = 'The index is not available right now';
    detail = api.message;
  } else {
    detail = api.message;
  }
  if (more) {
    // Under the answer that stays: what did not come, then why.
    if (!api) detail = `${title}. ${detail}`;
    title = 'More results could not be loaded';
  }
  const retry = el('button', { type: 'button', class: 'secondary', text: 'Try again',
    onclick: () => askAgain(state, { focus, more }) });
  // A filter the server refused (from a bookmark or an edited address) would be refused again
  // by "Try again": offer the search without it. The chips above remove any filter.
  const refused = api?.code === 'invalid_argument' && !more ? refusedFilter(state, api.param) : null;
  const without = refused ? el('button', { type: 'button', class: 'secondary',
    text: `Search without the ${refused.name.toLowerCase()} filter`,
    onclick: () => go(withState(refused.changes), { focus: 'results' }) }) : null;
  const box = el('div', { class: 'error-box', role: 'alert', id: 'error' },
    el('h2', { text: title }),
    el('p', { text: detail }),
    api?.code ? el('p', { class: 'hint', text: `Error code: ${api.code}${api.param ? ` (parameter “${api.param}”)` : ''}` }) : null,
    el('div', { class: 'error-actions' }, without, retry));
  placeFailure(state, box, { fromContent, more });
}

// The filter that the error's `param` names, if it is one in force: its name and the change
// that removes it.
function refusedFilter(state, param) {
  if (param === 'year_from' || param === 'year_to') {
    return state.year_from || state.year_to ? { name: 'Year', changes: { year_from: '', year_to: '' } } : null;
  }
  const filter = LIST_FILTERS.find((f) => f.param === param);
  return filter && state[param].length ? { name: filter.name, changes: { [param]: [] } } : null;
}

// The parts of a /search answer the page reads, with what the server may leave out.
function answerParts(response) {
  return {
    hits: Array.isArray(response.hits) ? response.hits : [],
    facets: response.facets && typeof response.facets === 'object' ? response.facets : null,
    spelling: response.spelling?.suggestion ? String(response.spelling.suggestion) : '',
  };
}

function showResults(state, response, focus) {
  setBusy(false);
  const { hits, facets, spelling } = answerParts(response);
  renderFilters(state, facets);
  showStatus(state, response);

  const parts = [];
  parts.push(renderActiveFilters(state));
  if (spelling) parts.push(renderSpelling(state, spelling));
  for (const warning of response.warnings ?? []) {
    parts.push(el('p', { class: 'notice', text: `Note: ${warning}` }));
  }
  const unsupported = !facets && (state.drug.length || state.section.length || state.evidence.length);
  if (unsupported) {
    parts.push(el('p', { class: 'notice', role: 'note',
      text: 'This server does not filter by drug, section or evidence level yet; those filters were not applied.' }));
  }

  if (!hits.length) {
    parts.push(renderEmpty(state, spelling));
  } else {
    parts.push(renderGroups(state, response, hits));
    parts.push(renderMore(state, hits.length));
    parts.push(renderReferences(response));
  }
  $('#content').replaceChildren(...parts.filter(Boolean));

  if (focus === 'results') {
    $('#results').focus({ preventScroll: true });
    $('#results').scrollIntoView({ block: 'start' });
  } else if (focus.startsWith('hit:')) {
    // "Show more" that found nothing more: the focus goes to the results (whose status says
    // so) rather than being lost with the button.
    const target = document.getElementById(`hit-${focus.slice(4)}`) ?? $('#results');
    target.focus();
  }
}

// The status line for the answer on screen: how many match, which are shown, a suggested
// spelling and a partial answer's notice. A screen reader announces it.
function showStatus(state, response) {
  const { hits, facets, spelling } = answerParts(response);
  const total = Number(response.total_estimate ?? hits.length);
  const first = state.start + 1;
  const last = state.start + hits.length;
  const status = $('#status');
  // total_estimate counts the records that match the question's words; the second stage may
  // add related passages that share none of them, ranked after those (README, GET /search).
  const related = facets?.exact !== false && total > 0 && last > total
    ? `; those after the ${ordinal(total)} are related passages without the question's words` : '';
  if (hits.length) {
    status.replaceChildren(
      el('span', { class: 'summary-count', text: `About ${formatCount(total)} matching ${total === 1 ? 'record' : 'records'}` }),
      el('span', { class: 'summary-rest', text: ` · showing ${first}–${last}${related}` }),
      typeof response.took_ms === 'number' ? el('span', { class: 'summary-rest', text: ` · ${Math.max(response.took_ms, 0.1).toFixed(1)} ms` }) : null);
  } else {
    status.textContent = 'No matching passages.';
  }
  // The status line is what a screen reader announces: the suggested spelling goes there too,
  // not only in the link below it.
  if (spelling) status.append(el('span', { class: 'summary-rest', dir: 'auto', text: ` · Did you mean ${spelling}?` }));
  // A sharded server with partial answers on answers from the shards that did, flagged
  // `partial` with `missing_shards` (README, Shards): fewer results must not pass for all
  // there are. In the status line, by the count, so that a screen reader announces it too.
  const partial = partialNotice(response, 'results may be incomplete', 'partial-notice');
  if (partial) status.append(' ', partial);  // the space keeps it a sentence of its own when read out
}

// The notice for an answer that part of the index did not give (`partial` in /search,
// /suggest or /stats), naming the shards that did not answer and saying what that means for
// this answer (`consequence`); null for a whole answer.
function partialNotice(answer, consequence, id) {
  if (answer?.partial !== true) return null;
  const shards = (Array.isArray(answer.missing_shards) ? answer.missing_shards : []).map(String);
  const which = shards.length ? ` (${shards.length === 1 ? 'shard' : 'shards'} ${shards.join(', ')})` : '';
  return el('span', { class: 'partial-notice', id, text: `Part of the index did not answer${which}: ${consequence}.` });
}

function renderActiveFilters(state) {
  const chips = [];
  const remove = (changes, label) =>
    el('li', {}, el('button', { type: 'button', class: 'chip', 'aria-label': `Remove filter: ${label}`,
      onclick: () => go(withState(changes), { focus: 'results' }) }, label, el('span', { 'aria-hidden': 'true', text: ' ×' })));
  for (const { param, name } of LIST_FILTERS) {
    for (const value of state[param]) {
      const label = `${name}: ${facetLabel(param, value)}`;
      chips.push(remove({ [param]: state[param].filter((v) => v !== value) }, label));
    }
  }
  if (state.year_from || state.year_to) {
    const label = `Year: ${state.year_from || 'any'}–${state.year_to || 'any'}`;
    chips.push(remove({ year_from: '', year_to: '' }, label));
  }
  if (!chips.length) return null;
  return el('div', { class: 'active-filters', role: 'group', 'aria-label': 'Active filters' },
    el('span', { class: 'active-label', text: 'Filtered by' }),
    el('ul', {}, chips),
    el('button', { type: 'button', class: 'link-button', text: 'Clear all', onclick: () => clearFilters() }));
}

function renderSpelling(state, suggestion) {
  const next = withState({ q: suggestion });
  const link = el('a', { href: pageUrl(next), id: 'did-you-mean', dir: 'auto', text: suggestion,
    onclick: (event) => {
      if (event.metaKey || event.ctrlKey || event.shiftKey) return;
      event.preventDefault();
      go(next, { focus: 'results' });
    } });
  return el('p', { class: 'did-you-mean' }, 'Did you mean ', el('strong', {}, link), '?');
}

function renderEmpty(state, spelling) {
  const tips = [];
  if (spelling) tips.push(el('li', {}, 'Try the suggested spelling above.'));
  tips.push(el('li', { text: 'Check the spelling of drug and condition names, or use the generic name.' }));
  tips.push(el('li', { text: 'Use fewer or more general words.' }));
  let clear = null;
  if (activeFilterCount(state)) {
    tips.push(el('li', { text: 'Remove some filters.' }));
    clear = el('button', { type: 'button', class: 'secondary', text: 'Clear all filters', onclick: () => clearFilters() });
  }
  return el('section', { class: 'empty', id: 'empty', 'aria-labelledby': 'empty-heading' },
    el('h2', { id: 'empty-heading' }, 'No passages match “', el('bdi', { text: state.q }), '”'),
    el('ul', {}, tips), clear);
}

function hitMeta(hit) {
  const items = [];
  if (hit.heading) items.push(el('span', { class: 'meta-section', dir: 'auto', text: hit.heading }));
  const c = hit.citation ?? {};
  const venue = c.journal || c.organisation || c.publisher;
  if (venue) items.push(el('span', { dir: 'auto', text: venue }));
  const year = hit.year ?? c.year;
  if (year) items.push(el('span', { text: String(year) }));
  if (hit.evidence_level) items.push(el('span', { text: facetLabel('evidence', hit.evidence_level) }));
  return items;
}

function badges(hit) {
  const out = [];
  if (hit.review_status && hit.review_status !== 'current') {
    out.push(el('span', { class: `badge badge-${hit.review_status === 'withdrawn' ? 'danger' : 'warn'}`,
      text: humanize(hit.review_status) }));
  }
  if (hit.section === 'boxed_warning') out.push(el('span', { class: 'badge badge-danger', text: 'Boxed warning' }));
  return out;
}

function renderHit(hit) {
  const ref = Number(hit.ref);
  const titleId = `hit-${hit.rank}-title`;
  const meta = hitMeta(hit);
  const metaLine = el('p', { class: 'hit-meta' });
  meta.forEach((item, i) => {
    if (i) metaLine.append(el('span', { class: 'sep', 'aria-hidden': 'true', text: ' · ' }));
    metaLine.append(item);
  });
  const snippet = el('p', { class: 'snippet', dir: 'auto' });
  if (hit.snippet) appendSnippet(snippet, hit.snippet);
  else snippet.textContent = hit.text ?? '';
  // "Full passage" only where the snippet left something out.
  const shown = snippet.textContent.replace(/…/g, '').trim();
  const full = hit.text && hit.snippet && shown.length < String(hit.text).trim().length - 3
    ? el('details', { class: 'full-text' }, el('summary', { text: 'Full passage' }), el('p', { dir: 'auto', text: hit.text }))
    : null;
  return el('li', {},
    el('article', { class: 'hit', id: `hit-${hit.rank}`, tabindex: '-1', 'aria-labelledby': titleId },
      el('h3', { class: 'hit-title', id: titleId },
        el('span', { dir: 'auto', text: hit.title || hit.record_id }),
        ref ? el('a', { class: 'ref-link', href: `#ref-${ref}`, 'aria-label': `Reference ${ref}`, text: `[${ref}]` }) : null),
      el('div', { class: 'hit-badges' }, badges(hit)),
      metaLine,
      snippet,
      full));
}

function renderGroups(state, response, hits) {
  const byRank = new Map(hits.map((h) => [h.rank, h]));
  const groups = Array.isArray(response.groups) && response.groups.length
    ? response.groups
    : SOURCES.map((s) => ({ source: s.value, label: s.group, ranks: hits.filter((h) => h.source === s.value).map((h) => h.rank) }))
      .filter((g) => g.ranks.length);
  const wrap = el('div', { class: 'groups' });
  for (const source of SOURCES) {
    const group = groups.find((g) => g.source === source.value);
    const excluded = state.source.length && !state.source.includes(source.value);
    const headingId = `group-${source.value}`;
    if (!group || !group.ranks?.length) {
      // A clinician should see that a kind of source had nothing, not wonder whether it was searched.
      if (excluded || state.start > 0) continue;
      wrap.append(el('section', { class: `group group-${source.value} group-empty`, 'aria-labelledby': headingId },
        el('h2', { id: headingId, text: source.group }),
        el('p', { class: 'hint', text: source.empty })));
      continue;
    }
    const items = group.ranks.map((rank) => byRank.get(rank)).filter(Boolean).map(renderHit);
    wrap.append(el('section', { class: `group group-${source.value}`, 'aria-labelledby': headingId, dataset: { source: source.value } },
      el('h2', { id: headingId }, group.label || source.group,
        el('span', { class: 'group-count', text: `${items.length} ${items.length === 1 ? 'passage' : 'passages'}` })),
      el('ol', { class: 'hits' }, items)));
  }
  return wrap;
}

// A full page may have more after it, even past total_estimate (related passages beyond the
// matching records); a page with fewer hits than asked for is the end.
function renderMore(state, shown) {
  const nav = el('nav', { class: 'more', 'aria-label': 'More results' });
  const end = state.start + shown;
  const full = shown >= state.n;
  if (full && state.n < MAX_LIMIT) {
    const count = Math.min(PAGE_SIZE, MAX_LIMIT - state.n);
    nav.append(el('button', { type: 'button', class: 'secondary', id: 'show-more', text: `Show ${count} more results`,
      onclick: () => go({ ...state, n: state.n + count }, { focus: `hit:${end + 1}`, more: state }) }));
  }
  const pageLink = (start, text, rel) => {
    const next = { ...current, start };
    return el('a', { href: pageUrl(next), rel, class: 'page-link', text,
      onclick: (event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey) return;
        event.preventDefault();
        go(next, { focus: 'results' });
      } });
  };
  if (state.start > 0) nav.append(pageLink(Math.max(0, state.start - state.n), `← Previous ${state.n}`, 'prev'));
  if (full && state.n >= MAX_LIMIT) nav.append(pageLink(end, `Next ${state.n} →`, 'next'));
  if (!full) nav.append(el('p', { class: 'hint', text: 'End of results.' }));
  return nav;
}

// The formatted citation with its identifiers (PMID, DOI, DailyMed set id) as links.
function citationNodes(ref) {
  const c = ref.citation ?? {};
  const text = String(ref.formatted || ref.title || ref.record_id || '');
  const ids = [];
  if (c.pmid) ids.push({ text: `PMID: ${c.pmid}`, href: `https://pubmed.ncbi.nlm.nih.gov/${encodeURIComponent(c.pmid)}/`, label: `PubMed ${c.pmid}` });
  if (c.doi) ids.push({ text: `doi:${c.doi}`, href: `https://doi.org/${c.doi.split('/').map(encodeURIComponent).join('/')}`, label: `DOI ${c.doi}` });
  if (c.set_id) ids.push({ text: `DailyMed set id: ${c.set_id}`, href: `https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=${encodeURIComponent(c.set_id)}`, label: `DailyMed label ${c.set_id}` });
  const nodes = [];
  let rest = text;
  const missing = [];
  for (const id of ids) {
    const at = rest.indexOf(id.text);
    if (at < 0) { missing.push(id); continue; }
    nodes.push(rest.slice(0, at), externalLink(id.href, id.text, `${id.label} (opens in a new tab)`));
    rest = rest.slice(at + id.text.length);
  }
  nodes.push(rest);
  for (const id of missing) nodes.push(' ', externalLink(id.href, id.text, `${id.label} (opens in a new tab)`));
  const url = c.url || ((!ids.length && ref.url) ? ref.url : '');
  if (url && /^https?:\/\//i.test(url)) nodes.push(' ', externalLink(url, url, `${url} (opens in a new tab)`));
  return nodes;
}

function renderReferences(response) {
  const refs = Array.isArray(response.references) ? response.references : [];
  if (!refs.length) return null;
  const firstRank = new Map();
  for (const hit of response.hits ?? []) {
    if (hit.ref && !firstRank.has(hit.ref)) firstRank.set(hit.ref, hit.rank);
  }
  const sourceName = new Map(SOURCES.map((s) => [s.value, s.label.replace(/s$/, '')]));
  const list = el('ol', { class: 'ref-list' }, refs.map((ref) => {
    const rank = firstRank.get(ref.number);
    const extra = [];
    if (ref.review_status && ref.review_status !== 'current') {
      extra.push(el('span', { class: `badge badge-${ref.review_status === 'withdrawn' ? 'danger' : 'warn'}`, text: humanize(ref.review_status) }));
    }
    const dates = [];
    if (ref.published) dates.push(`published ${ref.published}`);
    if (ref.updated && ref.updated !== ref.published) dates.push(`updated ${ref.updated}`);
    return el('li', { id: `ref-${ref.number}`, tabindex: '-1' },
      el('span', { class: 'ref-number', text: `[${ref.number}]` }),
      el('div', { class: 'ref-body' },
        el('span', { class: 'ref-citation', dir: 'auto' }, citationNodes(ref)),
        el('span', { class: 'ref-meta' },
          el('span', { class: 'ref-source', text: sourceName.get(ref.source) ?? humanize(ref.source ?? '') }),
          dates.length ? ` · ${dates.join(', ')}` : '',
          extra.length ? ' ' : '', extra,
          rank ? el('a', { class: 'back-link', href: `#hit-${rank}`, 'aria-label': `Back to the passage citing reference ${ref.number}`, text: '↑ back to passage' }) : null)));
  }));
  return el('section', { class: 'references', id: 'references', 'aria-labelledby': 'references-heading' },
    el('h2', { id: 'references-heading', text: 'References' }), list);
}

// ---- filters ------------------------------------------------------------------------------

// value -> label, learnt from the last facets, for chips and hit lines.
const knownLabels = { source: new Map(SOURCES.map((s) => [s.value, s.label])), drug: new Map(), section: new Map(), evidence: new Map(Object.entries(EVIDENCE_LABELS)) };

function facetLabel(param, value) {
  return knownLabels[param]?.get(value) ?? (param === 'drug' ? value : humanize(value));
}

function clearFilters() {
  go(withState({ source: [], drug: [], section: [], evidence: [], year_from: '', year_to: '' }), { focus: 'results' });
}

function renderFilters(state, facets) {
  // Keep the keyboard where it was when the lists are rebuilt under it.
  const focusedKey = document.activeElement?.dataset?.key;
  const exact = facets?.exact !== false;
  const note = $('#facets-note');
  note.hidden = !facets || exact;
  note.textContent = facets && !exact ? 'Counts are estimates (≈).' : '';
  $('#clear-filters').hidden = !activeFilterCount(state);

  for (const { param, facet, name } of LIST_FILTERS) {
    const fieldset = $(`#facet-${facet}`);
    const list = $('.facet-list', fieldset);
    let values = Array.isArray(facets?.[facet]) ? facets[facet].filter((v) => v && v.value !== undefined) : null;
    if (param === 'source') {
      // Always the three sources in clinical order, with counts when the server gives them.
      const counts = new Map((values ?? []).map((v) => [v.value, v]));
      // A source the filtered query does not reach shows no count rather than a puzzling 0.
      values = SOURCES.map((s) => ({ value: s.value, label: s.label, count: counts.get(s.value)?.count }));
    }
    if (!values) {
      fieldset.hidden = true;
      list.replaceChildren();  // no counts of an earlier answer left behind it
      continue;
    }
    for (const v of values) if (v.label) knownLabels[param].set(String(v.value), String(v.label));
    // Selected values stay visible, without a count, so they can be unticked.
    for (const selected of state[param]) {
      if (!values.some((v) => String(v.value) === selected)) values.push({ value: selected });
    }
    fieldset.hidden = values.length === 0;
    const expanded = fieldset.dataset.expanded === 'true';
    const items = values.map((v, i) => {
      const value = String(v.value);
      const id = `f-${param}-${i}`;
      const checked = state[param].includes(value);
      const hiddenItem = !expanded && i >= FACET_VISIBLE && !checked;
      const hasCount = typeof v.count === 'number';
      return el('li', { hidden: hiddenItem },
        el('input', { type: 'checkbox', id, checked, dataset: { key: `${param}:${value}` },
          onchange: (event) => {
            const next = event.target.checked ? [...state[param], value] : state[param].filter((x) => x !== value);
            go(withState({ [param]: next }));
          } }),
        el('label', { for: id },
          el('span', { class: 'facet-value', dir: 'auto', text: facetLabel(param, value) }),
          hasCount ? el('span', { class: 'count', 'data-count': String(v.count) },
            `${exact ? '' : '≈'}${formatCount(v.count)}`, srOnly(v.count === 1 ? ' record' : ' records')) : null));
    });
    const more = values.length > FACET_VISIBLE
      ? el('li', {}, el('button', { type: 'button', class: 'link-button', 'aria-expanded': String(expanded),
        dataset: { key: `${param}:more` },
        text: expanded ? `Show fewer` : `Show all ${values.length} (${name.toLowerCase()})`,
        onclick: () => {
          fieldset.dataset.expanded = String(!expanded);
          renderFilters(current, lastResponse?.facets ?? null);
        } }))
      : null;
    list.replaceChildren(...items, ...(more ? [more] : []));
  }

  renderYearFacet(state, facets, exact);
  const count = activeFilterCount(state);
  $('#filters-toggle').textContent = count ? `Filters (${count} active)` : 'Filters';

  if (focusedKey) {
    const again = document.querySelector(`[data-key="${CSS.escape(focusedKey)}"]`);
    if (again) again.focus();
  }
}

function renderYearFacet(state, facets, exact) {
  const list = $('#facet-year .facet-list');
  const buckets = Array.isArray(facets?.year) ? facets.year : [];
  list.replaceChildren(...buckets.map((b) => {
    const from = b.from ? String(b.from) : '';
    const to = b.to ? String(b.to) : '';
    const pressed = state.year_from === from && state.year_to === to && (from || to);
    const label = b.value ? String(b.value).replace('-', '–') : `${from || '…'}–${to || '…'}`;
    return el('li', {}, el('button', { type: 'button', class: 'year-bucket', 'aria-pressed': pressed ? 'true' : 'false',
      dataset: { key: `year:${b.value}` },
      onclick: () => go(withState(pressed ? { year_from: '', year_to: '' } : { year_from: from, year_to: to })) },
    el('span', { class: 'facet-value', text: label }),
    typeof b.count === 'number' ? el('span', { class: 'count', 'data-count': String(b.count) },
      `${exact ? '' : '≈'}${formatCount(b.count)}`, srOnly(b.count === 1 ? ' record' : ' records')) : null));
  }));
  list.hidden = buckets.length === 0;
}

function applyYears() {
  const from = $('#year-from').value.trim();
  const to = $('#year-to').value.trim();
  const valid = (y) => y === '' || /^\d{4}$/.test(y);
  if (!valid(from) || !valid(to)) {
    $('#year-from').setCustomValidity(valid(from) ? '' : 'Enter a four-digit year');
    $('#year-to').setCustomValidity(valid(to) ? '' : 'Enter a four-digit year');
    (valid(from) ? $('#year-to') : $('#year-from')).reportValidity();
    return;
  }
  $('#year-from').setCustomValidity('');
  $('#year-to').setCustomValidity('');
  const [a, b] = from && to && Number(from) > Number(to) ? [to, from] : [from, to];
  go(withState({ year_from: a, year_to: b }));
}

// ---- suggestions (GET /suggest) as an ARIA combobox ---------------------------------------

const suggest = { available: true, timer: 0, controller: null, items: [], active: -1 };

function lastWord(text) {
  const match = /([\p{L}\p{N}][\p{L}\p{N}'’-]*)$/u.exec(text);
  return match ? match[1] : '';
}

// Closes the list and forgets any suggestions still on their way: once a question is asked
// (or the box is left), a late answer from /suggest must not open the list over the results.
function closeSuggestions() {
  clearTimeout(suggest.timer);
  suggest.controller?.abort();
  suggest.controller = null;
  const list = $('#suggestions');
  list.hidden = true;
  list.replaceChildren();
  suggest.items = [];
  suggest.active = -1;
  showSuggestNotice(null);
  const input = $('#q');
  input.setAttribute('aria-expanded', 'false');
  input.removeAttribute('aria-activedescendant');
}

// Under the list, in a live region (read out as it appears, as a partial /search answer's
// notice in the status line): that the suggestions come from part of the index only. The
// same notice again, a letter later, is left as it is rather than read out again.
function showSuggestNotice(notice) {
  const holder = $('#suggest-status');
  if (holder.textContent === (notice?.textContent ?? '')) return;
  holder.replaceChildren(...(notice ? [notice] : []));
}

function chooseSuggestion(index) {
  const item = suggest.items[index];
  if (!item) return;
  const input = $('#q');
  const word = lastWord(input.value);
  input.value = `${input.value.slice(0, input.value.length - word.length)}${item.text} `;
  closeSuggestions();
  input.focus();
}

function moveActive(delta) {
  if (!suggest.items.length) return;
  suggest.active = (suggest.active + delta + suggest.items.length) % suggest.items.length;
  const options = [...$('#suggestions').children];
  options.forEach((option, i) => option.setAttribute('aria-selected', String(i === suggest.active)));
  $('#q').setAttribute('aria-activedescendant', options[suggest.active].id);
  options[suggest.active].scrollIntoView({ block: 'nearest' });
}

function requestSuggestions() {
  clearTimeout(suggest.timer);
  const prefix = lastWord($('#q').value);
  if (!suggest.available || prefix.length < 2) {
    closeSuggestions();
    return;
  }
  suggest.timer = setTimeout(async () => {
    suggest.controller?.abort();
    const controller = new AbortController();
    suggest.controller = controller;
    try {
      const res = await fetch(`suggest?${new URLSearchParams({ prefix, limit: '8' })}`, { signal: controller.signal });
      if (res.status === 404) {
        suggest.available = false;  // this server has no /suggest: stop asking
        return;
      }
      const body = res.ok ? await res.json() : null;
      if (controller.signal.aborted || lastWord($('#q').value) !== prefix) return;
      showSuggestions(Array.isArray(body?.suggestions) ? body.suggestions : [], body);
    } catch {
      // Suggestions are a convenience; a failure only means none are shown.
    }
  }, SUGGEST_DELAY_MS);
}

function showSuggestions(items, answer) {
  const list = $('#suggestions');
  suggest.items = items.filter((s) => s && s.text).slice(0, 8);
  suggest.active = -1;
  if (!suggest.items.length || document.activeElement !== $('#q')) {
    closeSuggestions();
    return;
  }
  list.replaceChildren(...suggest.items.map((s, i) => el('li', {
    id: `suggestion-${i}`, role: 'option', 'aria-selected': 'false', class: 'suggestion',
    onmousedown: (event) => event.preventDefault(),  // keep focus in the box
    onclick: () => chooseSuggestion(i),
  }, el('span', { dir: 'auto', text: s.text }),
  s.kind ? el('span', { class: 'suggestion-kind', text: s.kind }) : null)));
  list.hidden = false;
  $('#q').setAttribute('aria-expanded', 'true');
  showSuggestNotice(partialNotice(answer, 'suggestions may be incomplete'));
}

// ---- wiring -------------------------------------------------------------------------------

function setupNarrowFilters() {
  const toggle = $('#filters-toggle');
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    $('#filters').classList.toggle('open', open);
  });
}

function init() {
  const form = $('#search-form');
  const input = $('#q');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    closeSuggestions();
    const q = input.value.trim();
    if (!q) {
      input.focus();
      return;
    }
    // A new question keeps the filters: a clinician narrowing to guidelines usually wants
    // that for the next question too (the chips show them, "Clear all" removes them).
    go(withState({ q }));
  });
  input.addEventListener('input', requestSuggestions);
  input.addEventListener('keydown', (event) => {
    const open = !$('#suggestions').hidden;
    if (event.key === 'ArrowDown' && open) { event.preventDefault(); moveActive(1); }
    else if (event.key === 'ArrowUp' && open) { event.preventDefault(); moveActive(-1); }
    else if (event.key === 'Enter' && open && suggest.active >= 0) { event.preventDefault(); chooseSuggestion(suggest.active); }
    else if (event.key === 'Escape' && open) { event.preventDefault(); closeSuggestions(); }
  });
  input.addEventListener('blur', () => setTimeout(closeSuggestions, 0));

  $('#year-apply').addEventListener('click', applyYears);
  for (const id of ['#year-from', '#year-to']) {
    $(id).addEventListener('keydown', (event) => {
      if (event.key === 'Enter') { event.preventDefault(); applyYears(); }
    });
  }
  $('#clear-filters').addEventListener('click', clearFilters);
  setupNarrowFilters();

  // "/" jumps to the question box, as on most search sites.
  document.addEventListener('keydown', (event) => {
    if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
    // Except where "/" is typed as a character; from a checkbox or a button it still jumps.
    const target = event.target;
    if (target instanceof HTMLElement && (target.isContentEditable || /^(TEXTAREA|SELECT)$/.test(target.tagName) ||
        (target.tagName === 'INPUT' && !/^(checkbox|radio|button|submit|reset|image|file|range|color)$/.test(target.type)))) return;
    event.preventDefault();
    input.focus();
    input.select();
  });

  // A reference jump moves the keyboard focus with the view, so Tab continues from there.
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a.ref-link, a.back-link');
    if (!link) return;
    const target = document.getElementById(link.getAttribute('href').slice(1));
    if (!target) return;
    event.preventDefault();
    history.replaceState(null, '', pageUrl(current) + link.getAttribute('href'));
    target.scrollIntoView({ block: 'center' });
    target.focus({ preventScroll: true });
    target.classList.remove('flash');
    void target.offsetWidth;  // restart the highlight animation
    target.classList.add('flash');
  });

  // popstate also comes with a move within the page (the skip link's #results, Back over it):
  // only a different search is searched.
  window.addEventListener('popstate', () => {
    const state = readState();
    if (pageUrl(state) !== pageUrl(current)) go(state, { push: false });
  });
  go(readState(), { push: false });
}

init();
