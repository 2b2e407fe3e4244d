// Agensium dashboard. Every string from the API is untrusted: the DOM is
// built with createElement and text nodes only, never innerHTML.
'use strict';

const KEY = 'agensium.key';
const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);
const PREVIEW_BYTES = 64 << 10;
const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

let page = null; // {abort, urls} of the page shown
let who = null;

// ---- DOM helpers ----

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  return add(e, kids);
}

// Appends nodes and strings (as text), skipping null/false, flattening arrays.
function add(e, kids) {
  for (const c of [kids].flat(Infinity)) {
    if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

const fill = (e, ...kids) => { e.replaceChildren(); return add(e, kids); };

const cls = (s) => String(s).toLowerCase().replace(/[^a-z0-9_-]/g, '');
const pad = (n) => String(n).padStart(2, '0');

function time(s) {
  if (!s) return '—';
  const d = new Date(s);
  if (isNaN(d)) return String(s);
  const t = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return h('time', { datetime: s, title: s }, t);
}

function bytes(n) {
  if (n == null) return '—';
  n = Number(n);
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

function ms(n) {
  if (n == null || isNaN(n)) return '—';
  if (n < 1000) return `${Math.round(n)} ms`;
  const s = n / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${pad(Math.floor(s % 60))} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} m`;
}

const span = (a, b) => (a && b ? ms(new Date(b) - new Date(a)) : '—');

function value(k, v) {
  if (v == null) return '—';
  if (typeof v === 'number' && /_bytes$/.test(k)) return `${bytes(v)} (${v})`;
  if (typeof v === 'number' && /_ms$/.test(k)) return ms(v);
  if (typeof v === 'string' && /_at$/.test(k)) return time(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// A table of an object's keys and values; "none" when empty.
function kv(obj) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return h('p', { class: 'muted' }, 'none');
  return h('table', { class: 'kv' }, h('tbody', {},
    entries.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, value(k, v))))));
}

const dl = (rows) => h('dl', {}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
const limits = (l) => Object.entries(l || {}).map(([k, v]) => `${k}=${v}`).join(' ') || 'defaults';
const statusTag = (s) => h('span', { class: `status status-${cls(s)}` }, s);

function table(head, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('table', {},
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}

const sleep = (t) => new Promise((r) => setTimeout(r, t));

// ---- API ----

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, opts = {}) {
  const headers = new Headers(opts.headers || {});
  headers.set('Authorization', `Bearer ${sessionStorage.getItem(KEY) || ''}`);
  const res = await fetch(path, { ...opts, headers, credentials: 'omit', cache: 'no-store' });
  if (res.ok) return res;
  let code = `http_${res.status}`;
  let message = res.statusText || 'request failed';
  try {
    const j = await res.json();
    if (j && j.error) {
      code = String(j.error.code);
      message = String(j.error.message);
    }
  } catch (_) { /* not JSON, or the page left and aborted it */ }
  // A request of a page that was left (e.g. after another one's 401) says
  // nothing: the page that replaced it speaks.
  if (opts.signal && opts.signal.aborted) throw new DOMException('page left', 'AbortError');
  throw new ApiError(res.status, code, message);
}

const getJSON = async (path, opts) => (await api(path, opts)).json();

function showError(code, message) {
  fill($('error'), h('strong', {}, code), ': ', message);
  $('error').hidden = false;
}

function clearError() {
  $('error').replaceChildren();
  $('error').hidden = true;
}

function fail(e) {
  if (e && e.name === 'AbortError') return;
  if (e instanceof ApiError && e.status === 401) {
    sessionStorage.removeItem(KEY);
    showSignIn();
  }
  if (e instanceof ApiError) showError(e.code, e.message);
  else showError((e && e.name) || 'error', String((e && e.message) || e));
}

// ---- shell ----

function leave() {
  if (!page) return;
  page.abort.abort();
  page.urls.forEach((u) => URL.revokeObjectURL(u));
  page = null;
}

function showSignIn() {
  leave();
  who = null;
  $('nav').hidden = true;
  $('sign-out').hidden = true;
  $('who').replaceChildren();
  $('view').replaceChildren();
  $('key-form').hidden = false;
  $('key').focus();
}

async function loadWho(signal) {
  const w = await getJSON('/v1/whoami', { signal });
  who = w;
  fill($('who'), 'team ', h('strong', { id: 'who-team' }, String(w.team)),
    ' · role ', h('strong', { id: 'who-role' }, String(w.role)));
  $('who').title = `key ${w.key_id}`;
}

function route() {
  leave();
  clearError();
  if (!sessionStorage.getItem(KEY)) return showSignIn();
  $('key-form').hidden = true;
  $('nav').hidden = false;
  $('sign-out').hidden = false;
  page = { abort: new AbortController(), urls: [] };
  const signal = page.abort.signal;
  const raw = location.hash.replace(/^#\/?/, '');
  const qi = raw.indexOf('?');
  const q = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1));
  let parts;
  try {
    parts = (qi < 0 ? raw : raw.slice(0, qi)).split('/').filter(Boolean).map(decodeURIComponent);
  } catch (_) {
    parts = [];
  }
  const name = parts[0] || 'processors';
  for (const a of $('nav').querySelectorAll('a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  $('view').replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  if (!who) loadWho(signal).catch(fail);
  let shown;
  if (name === 'processors' && parts[1]) shown = processorPage(parts[1], signal);
  else if (name === 'processors') shown = processorsPage(q, signal);
  else if (name === 'jobs' && parts[1]) shown = jobPage(parts[1], signal);
  else if (name === 'jobs') shown = jobsPage(q, signal);
  else if (name === 'submit') shown = submitPage(q, signal);
  else shown = Promise.resolve(show(h('h1', {}, 'Not found'), h('p', {}, 'No such page.')));
  shown.catch(fail);
}

const show = (...nodes) => fill($('view'), nodes);

// ---- processors ----

async function processorsPage(q, signal) {
  const after = q.get('after');
  const data = await getJSON(`/v1/processors${after ? `?after=${enc(after)}` : ''}`, { signal });
  show(h('h1', {}, 'Processors'),
    table(['Name', 'Team', 'Visibility', 'Latest'], data.processors.map((p) => [
      h('a', { href: `#/processors/${enc(p.name)}` }, p.name), p.team, p.visibility,
      p.latest == null ? h('span', { class: 'muted' }, 'all yanked') : p.latest,
    ]), 'No processors visible to this key.'),
    data.next ? h('p', {}, h('a', { id: 'next-page', href: `#/processors?after=${enc(data.next)}` }, 'Next page →')) : null);
}

const versionRow = (v) => [
  v.version, h('code', { class: 'digest' }, v.digest), bytes(v.size), limits(v.limits),
  v.inline_safe ? 'yes' : 'no', v.uploaded_by || '—', time(v.created_at),
  v.yanked_at ? h('span', { class: 'yanked' }, 'yanked ', time(v.yanked_at)) : 'no',
];

async function processorPage(name, signal) {
  const p = await getJSON(`/v1/processors/${enc(name)}`, { signal });
  const rows = p.versions.map(versionRow);
  const head = ['Version', 'Digest', 'Size', 'Limits', 'Inline', 'Uploaded by', 'Uploaded', 'Yanked'];
  const box = h('div', {}, table(head, rows, 'No versions.'));
  let next = p.next_versions;
  const more = h('button', { type: 'button', id: 'more-versions', hidden: !next }, 'More versions');
  more.addEventListener('click', async () => {
    try {
      const page2 = await getJSON(`/v1/processors/${enc(name)}/versions?before=${enc(next)}`, { signal });
      rows.push(...page2.versions.map(versionRow));
      fill(box, table(head, rows, 'No versions.'));
      next = page2.next;
      more.hidden = !next;
    } catch (e) { fail(e); }
  });
  show(h('h1', {}, 'Processor ', h('code', {}, p.name)),
    dl([['Team', p.team], ['Visibility', p.visibility], ['Latest', p.latest || '—']]),
    h('p', {}, h('a', { href: `#/submit?processor=${enc(p.name)}` }, 'Submit a job to it')),
    h('h2', {}, 'Versions'), box, more);
}

// ---- jobs ----

function jobsHash(o) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v) q.set(k, v);
  const s = q.toString();
  return `#/jobs${s ? `?${s}` : ''}`;
}

async function jobsPage(q, signal) {
  const status = q.get('status') || '';
  const proc = q.get('processor') || '';
  const before = q.get('before') || '';
  const sel = h('select', { id: 'filter-status', name: 'status' },
    ['', ...STATUSES].map((s) => h('option', { value: s, selected: s === status }, s || 'all')));
  const input = h('input', { id: 'filter-processor', name: 'processor', type: 'text', value: proc, placeholder: 'any' });
  const apply = (ev) => {
    if (ev) ev.preventDefault();
    location.hash = jobsHash({ status: sel.value, processor: input.value.trim() });
  };
  sel.addEventListener('change', apply);
  input.addEventListener('change', apply);
  const filters = h('form', { id: 'jobs-filter', class: 'filters', onsubmit: apply },
    h('label', { for: 'filter-status' }, 'Status '), sel,
    h('label', { for: 'filter-processor' }, 'Processor '), input,
    h('button', { type: 'submit' }, 'Filter'));

  const params = new URLSearchParams({ limit: '20' });
  if (status) params.set('status', status);
  if (proc) params.set('processor', proc);
  if (before) params.set('before', before);
  let data;
  let local = false;
  try {
    data = await getJSON(`/v1/jobs?${params}`, { signal });
  } catch (e) {
    // An API without the processor filter: filter this page here.
    if (!(proc && e instanceof ApiError && e.code === 'unknown_query_parameter')) throw e;
    params.delete('processor');
    data = await getJSON(`/v1/jobs?${params}`, { signal });
    local = true;
  }
  const jobs = local ? data.jobs.filter((j) => j.processor === proc) : data.jobs;
  show(h('h1', {}, 'Jobs'), filters,
    local ? h('p', { class: 'muted' }, 'Filtered by processor within this page only.') : null,
    table(['Id', 'Processor', 'Version', 'Status', 'Created', 'Input'], jobs.map((j) => [
      h('a', { href: `#/jobs/${enc(j.id)}` }, h('code', {}, j.id)), j.processor, j.version,
      statusTag(j.status), time(j.created_at), bytes(j.input_bytes),
    ]), 'No jobs.'),
    h('p', { class: 'pager' },
      before ? h('a', { href: jobsHash({ status, processor: proc }) }, '← Newest') : null, ' ',
      data.next ? h('a', { id: 'next-page', href: jobsHash({ status, processor: proc, before: data.next }) }, 'Next page →') : null));
}

// Reads the job's Server-Sent Events, calling onJob with each document.
async function readEvents(id, signal, onJob) {
  const res = await api(`/v1/jobs/${enc(id)}/events`, { signal, headers: { Accept: 'text/event-stream' } });
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value: chunk, done } = await reader.read();
    if (done) return;
    buf = (buf + dec.decode(chunk, { stream: true })).replace(/\r\n/g, '\n');
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message';
      const data = [];
      for (const line of frame.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        let v = c < 0 ? '' : line.slice(c + 1);
        if (v.startsWith(' ')) v = v.slice(1);
        if (field === 'event') event = v;
        else if (field === 'data') data.push(v);
      }
      if (data.length && (event === 'status' || event === 'done')) onJob(JSON.parse(data.join('\n')));
    }
  }
}

// Follows the job until it is final, reconnecting when the stream breaks.
async function follow(id, signal, onJob) {
  let final = false;
  const seen = (j) => { final = FINAL.has(j.status); onJob(j); };
  while (!final && !signal.aborted) {
    try {
      await readEvents(id, signal, seen);
    } catch (e) {
      if (e instanceof ApiError || signal.aborted) throw e;
    }
    if (!final && !signal.aborted) {
      await sleep(2000);
      if (!signal.aborted) seen(await getJSON(`/v1/jobs/${enc(id)}`, { signal }));
    }
  }
}

const EXT = {
  'application/json': 'json', 'application/x-ndjson': 'ndjson', 'application/jsonl': 'jsonl',
  'text/plain': 'txt', 'text/csv': 'csv', 'text/html': 'html', 'text/markdown': 'md',
  'text/xml': 'xml', 'application/xml': 'xml', 'image/png': 'png', 'image/jpeg': 'jpg',
  'image/gif': 'gif', 'image/webp': 'webp', 'image/svg+xml': 'svg', 'application/pdf': 'pdf',
  'application/zip': 'zip', 'application/gzip': 'gz', 'application/x-gzip': 'gz',
  'application/octet-stream': 'bin',
};
// Types a browser would run if the object URL were opened: kept as bytes.
const ACTIVE = /html|xml|svg|javascript|ecmascript/;
const TEXTLIKE = /^(text\/|application\/json$|application\/x-ndjson$)/;

async function loadResult(job, signal, box) {
  const res = await api(`/v1/jobs/${enc(job.id)}/result`, { signal });
  const ct = res.headers.get('Content-Type') || 'application/octet-stream';
  const essence = ct.split(';')[0].trim().toLowerCase();
  const raw = await res.blob();
  const blob = new Blob([raw], { type: ACTIVE.test(essence) ? 'application/octet-stream' : ct });
  const url = URL.createObjectURL(blob);
  if (!page || page.abort.signal !== signal) return URL.revokeObjectURL(url);
  page.urls.push(url);
  const ext = EXT[essence] || (essence.startsWith('text/') ? 'txt' : 'bin');
  const name = `${String(job.id).replace(/[^A-Za-z0-9_-]/g, '_')}.${ext}`;
  fill(box, h('h2', {}, 'Result'),
    h('p', {}, h('a', { id: 'download', href: url, download: name }, `Download ${name}`),
      ` (${bytes(raw.size)}, ${ct})`));
  if (TEXTLIKE.test(essence)) {
    const text = await raw.slice(0, PREVIEW_BYTES).text();
    add(box, [h('pre', { id: 'result-preview' }, text),
      raw.size > PREVIEW_BYTES ? h('p', { class: 'muted' }, `First ${bytes(PREVIEW_BYTES)} shown.`) : null]);
  }
}

async function loadLog(job, signal, box) {
  const text = await (await api(`/v1/jobs/${enc(job.id)}/logs`, { signal })).text();
  fill(box, h('h2', {}, 'Log'), h('pre', { id: 'job-log', class: text ? null : 'empty' }, text));
}

async function jobPage(id, signal) {
  const status = h('strong', { id: 'job-status' });
  const actions = h('span', { class: 'actions' });
  const details = h('div');
  const logBox = h('section');
  const resultBox = h('section');
  let finished = false;
  show(h('h1', {}, 'Job ', h('code', {}, id)),
    h('p', { class: 'status-line' }, 'Status: ', status, ' ', actions), details, resultBox, logBox);

  const act = (label, method, path) => h('button', {
    type: 'button', id: label.toLowerCase(),
    onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await api(path, { method, signal });
        route();
      } catch (e) {
        ev.target.disabled = false;
        fail(e);
      }
    },
  }, label);

  const render = (job) => {
    status.textContent = job.status;
    status.className = `status status-${cls(job.status)}`;
    fill(actions,
      job.status === 'queued' || job.status === 'running' ? act('Cancel', 'DELETE', `/v1/jobs/${enc(job.id)}`) : null,
      job.status === 'failed' || job.status === 'cancelled' ? act('Retry', 'POST', `/v1/jobs/${enc(job.id)}/retry`) : null);
    const cb = job.callback;
    fill(details,
      dl([
        ['Processor', [h('a', { href: `#/processors/${enc(job.processor)}` }, job.processor), ' ', job.version]],
        ['Digest', h('code', { class: 'digest' }, job.digest)],
        ['Team', job.team], ['Key', job.key_id || '—'],
        ['Attempts', String(job.attempts)], ['Worker', job.worker || '—'],
        ['Input', bytes(job.input_bytes)],
        ['Output', job.output_bytes == null ? '—' : `${bytes(job.output_bytes)} ${job.content_type || ''}`],
      ]),
      job.error ? [h('h2', {}, 'Error'), h('p', { id: 'job-error', class: 'job-error' },
        h('strong', {}, String(job.error.code)), ': ', String(job.error.message))] : null,
      h('h2', {}, 'Timings'),
      dl([
        ['Created', time(job.created_at)],
        ['Started', [time(job.started_at), job.started_at ? ` (queued ${span(job.created_at, job.started_at)})` : '']],
        ['Finished', [time(job.finished_at), job.finished_at && job.started_at ? ` (ran ${span(job.started_at, job.finished_at)})` : '']],
        ['Total', span(job.created_at, job.finished_at)],
      ]),
      h('h2', {}, 'Usage'), kv(job.usage),
      h('h2', {}, 'Params'), kv(job.params),
      h('h2', {}, 'Stats'), kv(job.stats),
      cb ? [h('h2', {}, 'Callback'), kv({
        url: cb.url, state: cb.state, attempts: cb.attempts,
        last_outcome: cb.last_outcome, last_attempt_at: cb.last_attempt_at,
      })] : null);
    if (FINAL.has(job.status) && !finished) {
      finished = true;
      loadLog(job, signal, logBox).catch(fail);
      if (job.status === 'succeeded') loadResult(job, signal, resultBox).catch(fail);
    }
  };

  const job = await getJSON(`/v1/jobs/${enc(id)}`, { signal });
  render(job);
  if (!FINAL.has(job.status)) await follow(id, signal, render);
}

// ---- submit ----

async function submitPage(q, signal) {
  const sel = h('select', { id: 'submit-processor', name: 'processor', required: true });
  const version = h('input', { id: 'submit-version', name: 'version', type: 'text', placeholder: 'latest' });
  const file = h('input', { id: 'submit-file', name: 'file', type: 'file' });
  const params = h('textarea', { id: 'submit-params', name: 'params', rows: 4, placeholder: 'KEY=VALUE, one per line (spaces around are trimmed)', spellcheck: 'false' });
  const callback = h('input', { id: 'submit-callback', name: 'callback_url', type: 'text', inputmode: 'url', placeholder: 'https://…' });
  const button = h('button', { type: 'submit', id: 'submit-button' }, 'Submit');
  const form = h('form', { id: 'submit-form', class: 'stack' },
    h('label', { for: 'submit-processor' }, 'Processor'), sel,
    h('label', { for: 'submit-version' }, 'Version (optional)'), version,
    h('label', { for: 'submit-file' }, 'Input file'), file,
    h('label', { for: 'submit-params' }, 'Params'), params,
    h('label', { for: 'submit-callback' }, 'Callback URL (optional)'), callback,
    h('div', {}, button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError();
    const fd = new FormData();
    for (const [n, line] of params.value.split('\n').entries()) {
      if (!line.trim()) continue;
      const eq = line.indexOf('=');
      if (eq <= 0) return showError('invalid_param', `line ${n + 1}: expected KEY=VALUE`);
      fd.append(`param.${line.slice(0, eq).trim()}`, line.slice(eq + 1).trim());
    }
    if (callback.value.trim()) fd.append('callback_url', callback.value.trim());
    const f = file.files[0];
    if (f) fd.append('file', f, f.name);
    else fd.append('file', new Blob([]), 'empty');
    const v = version.value.trim();
    button.disabled = true;
    button.textContent = 'Sending…';
    try {
      const res = await api(`/v1/processors/${enc(sel.value)}/jobs${v ? `?version=${enc(v)}` : ''}`,
        { method: 'POST', body: fd, signal });
      const j = await res.json();
      location.hash = `#/jobs/${enc(j.id)}`;
    } catch (e) {
      fail(e);
    } finally {
      button.disabled = false;
      button.textContent = 'Submit';
    }
  });
  show(h('h1', {}, 'Submit a job'), form);

  const want = q.get('processor');
  let after = null;
  for (let n = 0; n < 10; n++) {
    const data = await getJSON(`/v1/processors?limit=200${after ? `&after=${enc(after)}` : ''}`, { signal });
    for (const p of data.processors) {
      sel.append(h('option', { value: p.name, selected: p.name === want },
        p.latest ? `${p.name} (${p.latest})` : p.name));
    }
    after = data.next;
    if (!after) break;
  }
  if (!sel.options.length) sel.append(h('option', { value: '' }, 'no processors'));
}

// ---- start ----

document.addEventListener('DOMContentLoaded', () => {
  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const k = $('key').value.trim();
    if (!k) return;
    sessionStorage.setItem(KEY, k);
    $('key').value = '';
    who = null;
    route();
  });
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    showSignIn();
    clearError();
  });
  window.addEventListener('hashchange', route);
  route();
});
