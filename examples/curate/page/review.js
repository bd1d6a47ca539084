// The review page: one candidate pair at a time, decided by keyboard, every decision saved by the
// server before the page moves on. Pairs are loaded in windows of the filtered list, never all.
'use strict';

const WINDOW = 200;  // pairs per window request
const BEHIND = 20;   // pairs kept before the position when a window is loaded
const TOKEN = new URLSearchParams(location.search).get('token') || '';

const state = {
  labels: false,
  classes: [],         // class names for the class filter
  pairs: 0,            // candidates in all
  counts: { accept: 0, reject: 0, skip: 0, undecided: 0 },
  filter: {},          // the applied filter: {class, min, max, undecided}
  total: 0,            // length of the filtered list when the window was loaded
  offset: 0,           // position of items[0] in the filtered list
  items: [],           // the loaded window
  index: -1,           // the shown pair: items[index]
  anchor: 0,           // the pair last shown; filters and refreshes start from it
  saves: 0,            // answers with saved: true in this session
};
const preloaded = [];

const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// ---------------------------------------------------------------- server

function apiUrl(path, params) {
  const q = new URLSearchParams(params || {});
  q.set('token', TOKEN);
  return path + '?' + q.toString();
}

// One request; resolves to the JSON body, rejects with ApiError carrying the server's `error` text.
async function api(method, path, params, body) {
  const headers = { 'X-Selfsup-Token': TOKEN };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(apiUrl(path, params), {
      method, headers, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError('the server cannot be reached (' + e.message + ')', 0, null);
  }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) throw new ApiError((data && data.error) || ('HTTP ' + res.status), res.status, data);
  return data;
}

// The filter as query parameters of /api/pairs and /api/position.
function filterParams(f) {
  const p = {};
  if (f.class !== undefined) p.class = f.class;
  if (f.min !== undefined) p.min = String(f.min);
  if (f.max !== undefined) p.max = String(f.max);
  if (f.undecided) p.undecided = '1';
  return p;
}

function filterQuery(f) {
  return new URLSearchParams(filterParams(f)).toString();
}

// ---------------------------------------------------------------- filter form

function readForm() {
  const f = {};
  const cls = $('filter-class').value;
  if (state.labels && cls !== '') f.class = cls;
  const min = $('filter-min').value.trim();
  const max = $('filter-max').value.trim();
  if (min !== '' && Number.isFinite(Number(min))) f.min = Number(min);
  if (max !== '' && Number.isFinite(Number(max))) f.max = Number(max);
  if ($('filter-undecided').checked) f.undecided = true;
  return f;
}

function writeForm(f) {
  $('filter-class').value = f.class !== undefined ? f.class : '';
  $('filter-min').value = f.min !== undefined ? f.min : '';
  $('filter-max').value = f.max !== undefined ? f.max : '';
  $('filter-undecided').checked = !!f.undecided;
}

// The applied filter is kept in the address's #fragment, so that a reload keeps it.
function filterFromHash() {
  const q = new URLSearchParams(location.hash.slice(1));
  const f = {};
  if (state.labels && q.has('class') && state.classes.includes(q.get('class'))) f.class = q.get('class');
  for (const k of ['min', 'max']) {
    if (q.get(k) && Number.isFinite(Number(q.get(k)))) f[k] = Number(q.get(k));
  }
  if (q.get('undecided') === '1') f.undecided = true;
  return f;
}

function filterToHash(f) {
  const q = filterQuery(f);
  history.replaceState(null, '', location.pathname + location.search + (q ? '#' + q : ''));
}

// ---------------------------------------------------------------- loading the filtered list

// The window of the filtered list that holds position k, with some pairs before it.
function fetchWindow(k) {
  return api('GET', 'api/pairs', { ...filterParams(state.filter), offset: Math.max(0, k - BEHIND), limit: WINDOW });
}

function showWindow(data, k) {
  state.total = data.total;
  state.offset = data.offset;
  state.items = data.items;
  state.index = data.items.length ? Math.min(Math.max(k - data.offset, 0), data.items.length - 1) : -1;
  render();
}

// Shows position k of the filtered list (the last one when k is past the end).
async function loadAt(k) {
  let data = await fetchWindow(k);
  if (data.items.length === 0 && data.total > 0) {
    k = data.total - 1;
    data = await fetchWindow(k);
  }
  showWindow(data, k);
}

// Shows pair p, or the first pair after it that the filter keeps; from the loaded window when it
// holds p, unless `reload` asks for a fresh one.
async function showPair(p, reload) {
  const i = reload ? -1 : state.items.findIndex((it) => it.pair === p);
  if (i >= 0) {
    state.index = i;
    render();
    return;
  }
  const { position } = await api('GET', 'api/position', { ...filterParams(state.filter), pair: p });
  await loadAt(position);
}

// Reloads the counts, and the list around the pair last shown (after a filter change, a bulk
// decision, a conflict).
async function refresh() {
  state.counts = (await api('GET', 'api/state')).counts;
  await showPair(current() ? current().pair : state.anchor, true);
}

function current() {
  return state.index >= 0 ? state.items[state.index] : null;
}

// Moves by one pair; crosses into a freshly loaded window at either end of the loaded one.
// Positions are asked for by pair number since decisions may have changed the filtered list.
async function step(delta) {
  const i = state.index + delta;
  if (state.index >= 0 && i >= 0 && i < state.items.length) {
    state.index = i;
    render();
    return true;
  }
  if (!state.items.length) return false;
  const query = filterParams(state.filter);
  if (delta > 0) {
    const last = state.items[state.items.length - 1];
    const { position } = await api('GET', 'api/position', { ...query, pair: last.pair + 1 });
    const data = await fetchWindow(position);
    if (position >= data.total) {
      note('this is the last pair of the filtered list');
      return false;
    }
    showWindow(data, position);
  } else {
    const first = state.items[0];
    const { position } = await api('GET', 'api/position', { ...query, pair: first.pair });
    if (position === 0) {
      note('this is the first pair of the filtered list');
      return false;
    }
    await loadAt(position - 1);
  }
  return true;
}

// ---------------------------------------------------------------- actions

function setSave(kind, text) {
  const el = $('save-status');
  el.className = kind;
  el.textContent = text;
}

function saved(text) {
  state.saves += 1;
  $('save-status').dataset.saves = String(state.saves);
  setSave('saved', text);
}

// Runs a saving request: "saving…" while it waits, the server's error text when it fails.
async function saving(path, body) {
  setSave('saving', 'saving…');
  let r;
  try {
    r = await api('POST', path, null, body);
  } catch (e) {
    setSave('error', e.message);
    e.shown = true;
    throw e;
  }
  if (!r || r.saved !== true) {
    const e = new ApiError('the server did not confirm the save', 0, r);
    setSave('error', e.message);
    e.shown = true;
    throw e;
  }
  if (r.counts) state.counts = r.counts;
  return r;
}

async function decide(decision) {
  const item = current();
  if (!item) return;
  const r = await saving('api/decide', { pair: item.pair, decision });
  item.decision = r.decision;
  saved(`saved: pair ${item.pair} ${r.decision}`);
  render();
  if (current() === item) await step(1);
}

async function undo() {
  const r = await saving('api/undo', {});
  const decisions = r.decisions || {};
  for (const it of state.items) {
    if (Object.prototype.hasOwnProperty.call(decisions, String(it.pair))) it.decision = decisions[it.pair];
  }
  const undone = r.undone || [];
  saved(undone.length === 1 ? `saved: undid pair ${undone[0]}` : `saved: undid ${undone.length} pairs`);
  if (undone.length === 1) await showPair(undone[0]);
  else await refresh();
}

async function bulk(decision) {
  if (filterQuery(readForm()) !== filterQuery(state.filter)) await applyFilter();
  const probe = await api('GET', 'api/pairs', { ...filterParams(state.filter), offset: 0, limit: 1 });
  const n = probe.total;
  if (n === 0) {
    note('no pairs match the filter');
    return;
  }
  const verb = decision === 'accept' ? 'Accept' : 'Reject';
  if (!window.confirm(`${verb} all ${n} filtered pairs?`)) return;
  const body = { decision, filter: { ...state.filter }, expected: n };
  try {
    const r = await saving('api/bulk', body);
    saved(`saved: ${decision} ${r.count} pairs`);
  } finally {
    await refresh();
  }
}

async function applyFilter() {
  state.filter = readForm();
  filterToHash(state.filter);
  await refresh();
}

// Actions run one after another, in the order of the keys; an error drops those still waiting.
let queue = Promise.resolve();
let epoch = 0;
let waiting = 0;

function enqueue(action) {
  if (waiting >= 100) return;
  const mine = epoch;
  waiting += 1;
  queue = queue
    .then(() => (mine === epoch ? action() : undefined))
    .catch((e) => {
      epoch += 1;
      if (!e.shown) note(e.message, true);
    })
    .finally(() => { waiting -= 1; });
}

// `decides`: applies to the pair shown when the key was pressed, and is dropped when the page
// shows another pair by the time it runs (a key pressed again while the previous save was waiting).
// `repeats`: a held key repeats the action.
const ACTIONS = {
  accept: { decides: true, run: () => decide('accept') },
  reject: { decides: true, run: () => decide('reject') },
  skip: { decides: true, run: () => decide('skip') },
  undo: { run: undo },
  next: { repeats: true, run: () => step(1) },
  previous: { repeats: true, run: () => step(-1) },
};

function perform(name) {
  const action = ACTIONS[name];
  if (!action.decides) {
    enqueue(action.run);
    return;
  }
  const shown = current() ? current().pair : null;
  enqueue(() => (shown !== null && current() && current().pair === shown ? action.run() : undefined));
}

const KEYS = {
  a: 'accept', r: 'reject', s: 'skip', u: 'undo', Backspace: 'undo',
  ArrowRight: 'next', n: 'next', ArrowLeft: 'previous', p: 'previous',
};

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && t.closest && t.closest('input, select, textarea, [contenteditable]')) {
    if (e.key === 'Escape') t.blur();
    return;
  }
  const name = KEYS[e.key.length === 1 ? e.key.toLowerCase() : e.key];
  if (!name) return;
  e.preventDefault();
  if (e.repeat && !ACTIONS[name].repeats) return;
  perform(name);
}

// ---------------------------------------------------------------- rendering

function note(text, isError) {
  const el = $('message');
  el.textContent = text || '';
  el.className = isError ? 'error' : 'muted';
}

function fmt(x, digits) {
  return typeof x === 'number' ? x.toFixed(digits) : (x === undefined || x === null ? '–' : String(x));
}

function renderProgress() {
  const c = state.counts;
  const reviewed = (c.accept || 0) + (c.reject || 0);
  const share = reviewed ? Math.round((100 * (c.accept || 0)) / reviewed) + '%' : '–';
  $('progress').textContent =
    `reviewed ${reviewed} of ${state.pairs} · accepted ${c.accept || 0} (${share}) · ` +
    `rejected ${c.reject || 0} · skipped ${c.skip || 0}`;
  $('progress-bar').style.width = state.pairs ? (100 * reviewed) / state.pairs + '%' : '0';
}

function setImage(img, index) {
  const src = apiUrl('image/' + index);
  if (img.getAttribute('src') === src) return;
  img.classList.add('loading');  // the previous pair's image is never shown under this pair
  img.src = src;
}

function onImageLoad(e) {
  const img = e.target;
  img.classList.remove('loading');
  img.classList.toggle('large', img.naturalWidth > img.clientWidth);
}

function onImageError(e) {
  e.target.classList.remove('loading');
  note('an image could not be loaded: ' + e.target.getAttribute('src').split('?')[0], true);
}

function caption(it, which) {
  const parts = [it[which]];
  if (state.labels && it['label_' + which] !== undefined) parts.push('class ' + it['label_' + which]);
  parts.push('in ' + it['occurrences_' + which] + ' pairs');
  return parts.join(' · ');
}

function render() {
  renderProgress();
  const it = current();
  const pos = $('position');
  pos.textContent = it ? `${state.offset + state.index + 1} of ${state.total}` : `0 of ${state.total}`;
  pos.dataset.query = filterQuery(state.filter);
  $('images').hidden = !it;
  $('stats').hidden = !it;
  $('empty').hidden = !!it;
  for (const id of ['bulk-accept', 'bulk-reject']) $(id).disabled = !it;
  const main = $('pair');
  if (!it) {
    main.className = 'undecided';
    $('pair-id').textContent = '–';
    $('decision').textContent = '–';
    $('empty').textContent = state.total === 0 ? 'No pairs match the filter.' : '';
    return;
  }
  state.anchor = it.pair;
  const decision = it.decision || 'undecided';
  main.className = decision;
  $('pair-id').textContent = String(it.pair);
  $('decision').textContent = decision;
  setImage($('image-first'), it.first_image);
  setImage($('image-second'), it.second_image);
  $('caption-first').textContent = caption(it, 'first');
  $('caption-second').textContent = caption(it, 'second');
  $('stat-cosine').textContent = fmt(it.cosine, 4);
  $('stat-rank').textContent = fmt(it.rank, 0);
  $('stat-partner-rank').textContent = fmt(it.partner_rank, 0);
  $('stat-relative-distance').textContent = fmt(it.relative_distance, 3);
  $('stat-labels-box').hidden = !state.labels;
  if (state.labels) {
    const same = it.label_first === it.label_second ? ' (same)' : ' (different)';
    $('stat-labels').textContent = `${it.label_first} · ${it.label_second}${same}`;
  }
  note('');
  preload(state.items[state.index + 1]);
}

// Fetches the next pair's images into the browser's cache before they are shown.
function preload(next) {
  preloaded.length = 0;
  if (!next) return;
  for (const index of [next.first_image, next.second_image]) {
    const img = new Image();
    img.src = apiUrl('image/' + index);
    preloaded.push(img);
  }
}

// ---------------------------------------------------------------- start

async function start() {
  if (!TOKEN) {
    note('this address has no ?token=…; open the address curate review printed', true);
    return;
  }
  const s = await api('GET', 'api/state');
  state.labels = !!s.labels;
  state.classes = (s.classes || []).map(String);
  state.pairs = s.pairs;
  state.counts = s.counts;
  $('reviewer').textContent = s.reviewer;
  $('journal').textContent = String(s.journal).split('/').pop();
  $('journal').title = `candidates: ${s.candidates}\njournal: ${s.journal}`;
  const select = $('filter-class');
  for (const c of state.classes) select.add(new Option(c, c));
  $('filter-class-label').hidden = !state.labels;
  select.disabled = !state.labels;
  state.filter = filterFromHash();
  writeForm(state.filter);
  const resume = s.resume_pair === null || s.resume_pair === undefined ? 0 : s.resume_pair;
  const { position } = await api('GET', 'api/position', { ...filterParams(state.filter), pair: resume });
  await loadAt(position);
}

function init() {
  document.addEventListener('keydown', onKey);
  for (const img of [$('image-first'), $('image-second')]) {
    img.addEventListener('load', onImageLoad);
    img.addEventListener('error', onImageError);
  }
  $('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    if (document.activeElement) document.activeElement.blur();
    enqueue(applyFilter);
  });
  $('bulk-accept').addEventListener('click', (e) => { e.currentTarget.blur(); enqueue(() => bulk('accept')); });
  $('bulk-reject').addEventListener('click', (e) => { e.currentTarget.blur(); enqueue(() => bulk('reject')); });
  for (const b of document.querySelectorAll('#actions button')) {
    b.addEventListener('click', () => { b.blur(); perform(b.dataset.action); });
  }
  enqueue(start);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
