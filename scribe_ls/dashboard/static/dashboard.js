// The scribe-ls dashboard: one repository's sessions, live. Everything comes from the
// JSON-RPC methods and pushes every client uses (docs/protocol.md); nothing is kept but a
// bounded view of them.

import { barChart, formatSeconds, splitByAuthor, splitLegend, splitSaid } from './chart.js';
import { renderMarkdown, renderSnippet } from './markdown.js';
import { Rpc } from './rpc.js';

const UNAUTHORIZED = -32014;
const MAX_TIMELINE = 200; // entries in the DOM; older ones are dropped as new ones come
const MAX_FILES = 2000; // paths counted for the selected session
const MAX_FILE_ROWS = 40;
const MAX_OVERLAPS = 50;
const MAX_CARDS = 24;
const TIMELINE_PAGES = 20; // pages of 1000 read to find a session's newest entries
const RETRY_MAX_MS = 10000;

const $ = (id) => document.getElementById(id);

const view = {
  rpc: null,
  token: new URLSearchParams(location.hash.slice(1)).get('token'),
  sessions: new Map(), // id -> Session
  live: new Map(), // id -> {seen: Set<path>, saved: string[], at: string}
  selected: null, // the session whose timeline and files are shown
  timeline: new Set(), // entry ids shown
  files: new Map(), // path -> changes, for the selected session
  overlaps: [],
  range: 7,
  retries: 0,
  pushes: 0, // pushes handled (the bench and tests read it)
  fatal: false,
};
// For scripts and the bench: what the page has handled, nothing to act through.
window.scribeDashboard = { get pushes() { return view.pushes; }, get connected() { return view.rpc !== null; } };

// -- small helpers -----------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const label = (session) => session.backlogId ?? session.title ?? session.id;

function ago(iso) {
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return `${Math.floor(seconds)}s ago`;
  return `${formatSeconds(seconds)} ago`;
}

function elapsed(session) {
  const end = session.endedAt ? Date.parse(session.endedAt) : Date.now();
  return formatSeconds(Math.max(0, (end - Date.parse(session.startedAt)) / 1000));
}

function when(iso) {
  const date = new Date(iso);
  return `${date.toLocaleDateString()} ${date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
}

function showBanner(text, kind = 'error') {
  const banner = $('banner');
  banner.textContent = text;
  banner.className = kind;
  banner.hidden = false;
}

function hideBanner() {
  $('banner').hidden = true;
}

function setConnection(text, kind = '') {
  const pill = $('connection');
  pill.textContent = text;
  pill.className = `pill ${kind}`;
}

/** Run a request; a failure is shown as the server words it. */
async function call(method, params) {
  if (!view.rpc) {
    showBanner('disconnected: the action was not sent');
    return undefined;
  }
  try {
    return await view.rpc.request(method, params);
  } catch (error) {
    showBanner(`${method}: ${error.message}`);
    return undefined;
  }
}

function fatal(title, text) {
  view.fatal = true;
  $('app').hidden = true;
  $('fatal-title').textContent = title;
  $('fatal-text').textContent = text;
  $('fatal').hidden = false;
  setConnection('not connected', 'down');
  document.title = `scribe-ls: ${title}`;
}

// -- connection --------------------------------------------------------------------------

async function connect() {
  if (!view.token) {
    fatal('token missing', 'Start the dashboard with `scribe-ls dashboard` and open the URL it prints (its token is after the #).');
    return;
  }
  setConnection(view.retries ? 'reconnecting…' : 'connecting…');
  const rpc = new Rpc(`ws://${location.host}/rpc`);
  listen(rpc);
  let lost = false;
  rpc.onclose = () => {
    if (lost || view.fatal) return;
    lost = true;
    if (view.rpc === rpc) view.rpc = null;
    retryLater();
  };
  let answer;
  try {
    answer = await rpc.connect(view.token);
  } catch (error) {
    if (error.code === UNAUTHORIZED) {
      rpc.close();
      fatal('token rejected', 'token rejected: start with `scribe-ls dashboard` and open the URL it prints (a token works only for the server that printed it).');
      return;
    }
    if (!lost) {
      lost = true;
      rpc.close();
      retryLater();
    }
    return;
  }
  view.rpc = rpc;
  view.retries = 0;
  hideBanner();
  setConnection('live', 'live');
  $('app').hidden = false;
  $('root').textContent = answer?.serverInfo ? `${answer.serverInfo.name} ${answer.serverInfo.version}` : '';
  await loadAll();
}

function retryLater() {
  const wait = Math.min(RETRY_MAX_MS, 500 * 2 ** view.retries);
  view.retries += 1;
  setConnection('disconnected, retrying', 'down');
  showBanner(`disconnected, retrying in ${Math.round(wait / 100) / 10} s…`, 'warn');
  setTimeout(connect, wait);
}

function listen(rpc) {
  const counted = (handler) => (params) => {
    view.pushes += 1;
    if (params && typeof params === 'object') handler(params);
  };
  rpc.on('scribe/sessionChanged', counted(({ session }) => session && sessionChanged(session)));
  rpc.on('scribe/entryAdded', counted(({ entry }) => entry && entryAdded(entry)));
  rpc.on('scribe/activity', counted(activity));
  rpc.on('scribe/overlap', counted(overlap));
  rpc.on('scribe/resumeAvailable', counted((packet) => packet.session && sessionChanged(packet.session)));
  rpc.on('window/showMessage', counted(({ message }) => message && showBanner(message, 'warn')));
}

async function loadAll() {
  const status = await call('scribe/status', {});
  if (status) $('root').textContent = status.root;
  const listed = await call('scribe/listSessions', { limit: MAX_CARDS });
  if (!listed) return;
  view.sessions.clear();
  for (const session of listed.sessions) view.sessions.set(session.id, session);
  const current = status?.currentSession ?? listed.sessions.find((s) => s.status !== 'completed');
  if (current) view.sessions.set(current.id, current);
  renderCards();
  await select(view.selected && view.sessions.has(view.selected) ? view.selected : current?.id ?? listed.sessions[0]?.id ?? null);
  await Promise.all([loadTime(), loadOverlaps(current), loadTeam()]);
}

// -- session cards -----------------------------------------------------------------------

function liveOf(id) {
  if (!view.live.has(id)) view.live.set(id, { seen: new Set(), saved: [], at: null });
  return view.live.get(id);
}

function renderCards() {
  const order = { active: 0, paused: 1, completed: 2 };
  const sessions = [...view.sessions.values()]
    .sort((a, b) => order[a.status] - order[b.status] || b.lastActivityAt.localeCompare(a.lastActivityAt))
    .slice(0, MAX_CARDS);
  $('cards').replaceChildren(...sessions.map(card));
  if (sessions.length === 0) $('cards').append(h('p', { class: 'muted' }, 'No sessions yet: `scribe-ls start` on a B-1234 branch starts one.'));
}

function card(session) {
  const live = liveOf(session.id);
  const files = Math.max(session.stats.filesChanged, live.seen.size);
  const last = live.at && live.at > session.lastActivityAt ? live.at : session.lastActivityAt;
  const actions = [];
  if (session.status === 'active') actions.push(h('button', { type: 'button', onclick: () => setStatus(session, 'paused') }, 'Pause'));
  if (session.status === 'paused') actions.push(h('button', { type: 'button', onclick: () => setStatus(session, 'active') }, 'Resume'));
  if (session.status !== 'completed') actions.push(h('button', { type: 'button', onclick: () => stop(session) }, 'Stop'));
  return h(
    'article',
    { class: `card${session.id === view.selected ? ' selected' : ''}`, dataset: { session: session.id }, 'aria-label': `session ${label(session)}` },
    h('h3', {},
      h('button', { type: 'button', onclick: () => select(session.id), 'aria-label': `show the timeline of ${label(session)}` }, label(session)),
      h('span', { class: `status ${session.status}` }, session.status)),
    session.title && session.title !== label(session) ? h('div', { class: 'muted' }, session.title) : null,
    h('dl', {},
      h('dt', {}, 'branch'), h('dd', { class: 'card-branch' }, session.branch ?? '—'),
      h('dt', {}, 'elapsed'), h('dd', { class: 'card-elapsed', dataset: { started: session.startedAt } }, elapsed(session)),
      h('dt', {}, 'active'), h('dd', { class: 'card-active' }, formatSeconds(session.stats.activeSeconds ?? 0)),
      h('dt', {}, 'files'), h('dd', { class: 'card-files' }, `${files} changed`),
      h('dt', {}, 'entries'), h('dd', { class: 'card-entries' }, String(session.stats.entries)),
      h('dt', {}, 'last'), h('dd', { class: 'card-last', dataset: { at: last } }, ago(last)),
      live.saved.length ? h('dt', {}, 'saved') : null,
      live.saved.length ? h('dd', { class: 'card-saved' }, live.saved.join(', ')) : null),
    actions.length ? h('div', { class: 'row' }, ...actions) : null,
  );
}

function rerenderCard(id) {
  const session = view.sessions.get(id);
  const old = document.querySelector(`article.card[data-session="${CSS.escape(id)}"]`);
  if (!session) return;
  if (old) old.replaceWith(card(session));
  else renderCards();
}

async function setStatus(session, status) {
  const updated = await call('scribe/updateSession', { sessionId: session.id, status });
  if (updated) sessionChanged(updated);
}

async function stop(session) {
  const stopped = await call('scribe/stopSession', { sessionId: session.id });
  if (stopped) sessionChanged(stopped);
}

function sessionChanged(session) {
  const known = view.sessions.has(session.id);
  view.sessions.set(session.id, session);
  if (known) rerenderCard(session.id);
  else renderCards();
  if (!view.selected) void select(session.id);
  if (session.id === view.selected) $('timeline-of').textContent = `${label(session)} · ${session.status}`;
}

/** The card's "saved" line: the last files saved (a push, or the last activity entry). */
function lastSaved(id, paths, at) {
  const live = liveOf(id);
  live.saved = paths.slice(0, 3).concat(paths.length > 3 ? [`+${paths.length - 3} more`] : []);
  if (!live.at || at > live.at) live.at = at;
}

function activity(params) {
  if (!params.sessionId || !Array.isArray(params.files)) return;
  const live = liveOf(params.sessionId);
  const paths = params.files.map((f) => f.path).filter((p) => typeof p === 'string');
  for (const path of paths) if (live.seen.size < MAX_FILES) live.seen.add(path);
  lastSaved(params.sessionId, paths, params.at ?? new Date().toISOString());
  if (params.sessionId === view.selected) {
    for (const path of paths) countFile(path);
    renderFiles();
  }
  if (view.sessions.has(params.sessionId)) rerenderCard(params.sessionId);
}

// Elapsed times and "last activity" move on their own: refreshed in place every second.
setInterval(() => {
  for (const node of document.querySelectorAll('.card-last')) node.textContent = ago(node.dataset.at);
  for (const node of document.querySelectorAll('.card-elapsed')) {
    const session = view.sessions.get(node.closest('article').dataset.session);
    if (session) node.textContent = elapsed(session);
  }
}, 1000);

// -- timeline and files ------------------------------------------------------------------

async function select(id) {
  view.selected = id;
  view.timeline.clear();
  view.files.clear();
  $('timeline').replaceChildren();
  renderFiles();
  for (const node of document.querySelectorAll('article.card')) node.classList.toggle('selected', node.dataset.session === id);
  const session = id && view.sessions.get(id);
  $('timeline-of').textContent = session ? `${label(session)} · ${session.status}` : '';
  $('note-text').disabled = !session || session.status === 'completed';
  if (!session) return;
  // Entries come oldest first a page at a time: read the pages, keep the newest.
  let afterId = 0;
  let newest = [];
  for (let page = 0; page < TIMELINE_PAGES; page++) {
    const result = await call('scribe/getEntries', { sessionId: id, afterId, limit: 1000 });
    if (!result || view.selected !== id) return;
    newest = newest.concat(result.entries).slice(-MAX_TIMELINE);
    for (const entry of result.entries) for (const path of entry.kind === 'activity' ? entry.files : []) countFile(path);
    if (result.nextAfterId === null || result.nextAfterId === undefined) break;
    afterId = result.nextAfterId;
  }
  for (const entry of newest) addToTimeline(entry);
  renderFiles();
  const saved = newest.findLast((entry) => entry.kind === 'activity');
  if (saved && !liveOf(id).saved.length) {
    lastSaved(id, saved.files, saved.at);
    rerenderCard(id);
  }
}

// A coding agent's hooks write `intent` (a prompt: its turn starts) and `agent` entries (what
// it did: edits, commands, the turn's end); an agent's run is its author's part after ':'.
const TURN_KINDS = { intent: 'prompt', agent: 'agent' };

function entryItem(entry) {
  const byHook = entry.author?.includes(':') && entry.kind in TURN_KINDS;
  const classes = [`kind-${entry.kind}`];
  if (byHook) classes.push(entry.kind === 'intent' ? 'turn-start' : 'turn-step');
  return h(
    'li',
    { class: classes.join(' '), dataset: { entry: entry.id, kind: entry.kind } },
    h('div', { class: 'meta' },
      h('span', { class: 'kind' }, byHook && entry.kind === 'intent' ? 'turn' : TURN_KINDS[entry.kind] ?? entry.kind), ' · ', when(entry.at),
      entry.author ? h('span', { class: 'author', title: 'written by an agent' }, `agent: ${entry.author}`) : null),
    h('div', { class: 'text' }, entry.text),
    entry.files?.length ? h('div', { class: 'meta' }, entry.files.slice(0, 5).join(', ') + (entry.files.length > 5 ? ` +${entry.files.length - 5}` : '')) : null,
  );
}

function addToTimeline(entry) {
  if (view.timeline.has(entry.id)) return;
  view.timeline.add(entry.id);
  const list = $('timeline');
  list.prepend(entryItem(entry)); // newest first
  while (list.children.length > MAX_TIMELINE) {
    const oldest = list.lastElementChild;
    view.timeline.delete(Number(oldest.dataset.entry));
    oldest.remove();
  }
}

function entryAdded(entry) {
  const session = view.sessions.get(entry.sessionId);
  if (session) {
    session.stats.entries += 1;
    session.lastActivityAt = entry.at > session.lastActivityAt ? entry.at : session.lastActivityAt;
    // A save the page had no push of (it connected after it) is in its activity entry.
    if (entry.kind === 'activity' && !liveOf(session.id).saved.length) lastSaved(session.id, entry.files, entry.at);
    rerenderCard(session.id);
  }
  if (entry.sessionId !== view.selected) return;
  addToTimeline(entry);
  if (entry.kind === 'activity') {
    // The live pushes counted these saves already; the entry is the recorded tally.
    renderFiles();
  }
}

function countFile(path) {
  if (view.files.has(path) || view.files.size < MAX_FILES) view.files.set(path, (view.files.get(path) ?? 0) + 1);
}

function renderFiles() {
  const rows = [...view.files.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, MAX_FILE_ROWS);
  const body = $('files').tBodies[0];
  body.replaceChildren(...rows.map(([path, count]) => h('tr', {}, h('td', {}, path), h('td', {}, String(count)))));
  if (!rows.length) body.append(h('tr', {}, h('td', { colspan: 2, class: 'muted' }, 'No files yet.')));
}

$('note-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('note-text');
  const text = input.value.trim();
  if (!text) {
    showBanner('text: type something to add');
    input.focus();
    return;
  }
  const params = { text, kind: $('note-kind').value };
  const session = view.sessions.get(view.selected);
  if (session && session.status !== 'completed') params.sessionId = session.id;
  const entry = await call('scribe/appendEntry', params);
  if (entry) {
    input.value = '';
    hideBanner();
    if (entry.sessionId === view.selected) addToTimeline(entry);
  }
});

// -- time --------------------------------------------------------------------------------

async function loadTime() {
  const since = `${view.range - 1}d`;
  // Per item, and per item and author (the person/agent split).
  const [report, byAuthor] = await Promise.all([
    call('scribe/report', { kind: 'time', since, by: 'item' }),
    call('scribe/report', { kind: 'time', since, by: 'author' }),
  ]);
  if (!report) return;
  const chart = $('chart');
  $('time-total').textContent = `${formatSeconds(report.totalSeconds)} in all, ${report.since} to ${report.until}`;
  if (!report.rows.length) {
    chart.replaceChildren(h('p', { class: 'muted' }, 'No time recorded in this range.'));
    return;
  }
  const split = byAuthor ? splitByAuthor(byAuthor.rows) : new Map();
  const width = Math.max(360, Math.min(720, chart.clientWidth || 640));
  chart.replaceChildren(barChart(report.rows, { width, split, title: `Time per item, last ${view.range} days` }));
  if (split.size) {
    const words = report.rows.filter((row) => split.has(row.item)).slice(0, 12).map((row) =>
      h('li', {}, `${row.item}: ${splitSaid(split.get(row.item), row.seconds)}`));
    chart.append(splitLegend(), h('ul', { class: 'split-said muted' }, ...words));
  }
}

for (const days of [7, 30]) {
  $(`range-${days}`).addEventListener('click', () => {
    view.range = days;
    $('range-7').setAttribute('aria-pressed', String(days === 7));
    $('range-30').setAttribute('aria-pressed', String(days === 30));
    void loadTime();
  });
}
setInterval(() => view.rpc && loadTime(), 60000);

// -- overlaps ----------------------------------------------------------------------------

function renderOverlaps() {
  $('overlaps-section').hidden = view.overlaps.length === 0;
  $('overlaps').replaceChildren(...view.overlaps.map((o) => h('li', { dataset: { other: o.other } }, o.text)));
}

function overlap(params) {
  const other = params.otherSession ?? {};
  const files = Array.isArray(params.files) ? params.files : [];
  // A teammate's session (the shared logs) says who; another session here, where it is.
  const where = other.teammate ? `, teammate ${other.teammate}` : other.root ? ` in ${other.root}` : '';
  const text = `${other.backlogId ?? other.title ?? other.id} (branch ${other.branch ?? '—'}${where}) is also working on ${files.slice(0, 5).join(', ')}${files.length > 5 ? ` +${files.length - 5}` : ''}`;
  if (other.teammate) void loadTeam();
  view.overlaps = [{ other: other.id, text }, ...view.overlaps.filter((o) => o.text !== text)].slice(0, MAX_OVERLAPS);
  renderOverlaps();
}

async function loadOverlaps(current) {
  if (!current) return;
  const packet = await call('scribe/getContext', { sessionId: current.id, sections: ['sessions'] });
  const others = packet?.sections?.sessions?.ok ? packet.sections.sessions.data : [];
  for (const other of others) {
    if (other.sharedFiles.length) overlap({ sessionId: current.id, otherSession: other, files: other.sharedFiles });
  }
}

// -- team --------------------------------------------------------------------------------

// Who is on which item, from the shared logs (scribe/team; `scribe-ls share on`, docs/team.md).
async function loadTeam() {
  const result = await call('scribe/team', {});
  if (!result) return;
  const people = result.people ?? [];
  $('team-summary').textContent = people.length
    ? `${people.length} ${people.length === 1 ? 'person' : 'people'} in the shared logs`
    : 'No shared logs read yet (scribe-ls share on, then scribe-ls sync).';
  $('team').replaceChildren(...people.map((person) => {
    const who = h('div', { class: 'who' }, person.you ? `${person.author} (your other machines)` : person.author);
    if (!person.verified) {
      who.append(h('span', { class: 'author', title: 'this log names this author; someone else pushed it' }, `pushed by ${person.pushedBy.join(', ')}`));
    }
    const sessions = person.sessions.length
      ? h('ul', {}, ...person.sessions.map((s) => h('li', { dataset: { item: s.item } },
        `${s.item} · ${s.status} since ${when(s.since)}`,
        s.files.length ? h('div', { class: 'meta' }, s.files.slice(0, 5).join(', ') + (s.fileCount > 5 ? ` +${s.fileCount - 5}` : '')) : null)))
      : h('div', { class: 'muted' }, 'no open session');
    return h('li', { dataset: { author: person.authorId } }, who, sessions);
  }));
}
setInterval(() => view.rpc && loadTeam(), 60000);

// -- search ------------------------------------------------------------------------------

$('search-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const query = $('search-query').value.trim();
  if (!query) return;
  const result = await call('scribe/search', { query, limit: 50 });
  if (!result) return;
  $('search-summary').textContent = `${result.hits.length} ${result.hits.length === 1 ? 'hit' : 'hits'} for “${query}”`;
  $('search-results').replaceChildren(
    ...result.hits.map((hit) =>
      h('li', { class: `kind-${hit.entry.kind}` },
        h('div', { class: 'meta' }, h('span', { class: 'kind' }, hit.entry.kind), ' · ', hit.backlogId ?? hit.entry.sessionId, ' · ', when(hit.entry.at),
          hit.entry.author ? h('span', { class: 'author' }, `agent: ${hit.entry.author}`) : null),
        h('div', { class: 'text' }, renderSnippet(hit.snippet)))),
  );
});

// -- context packet ----------------------------------------------------------------------

$('context-load').addEventListener('click', async () => {
  const params = { format: 'markdown' };
  if (view.selected) params.sessionId = view.selected;
  const packet = await call('scribe/getContext', params);
  if (!packet) return;
  $('context-summary').textContent = `${packet.tokens} tokens (${packet.tokenEstimator}), ${packet.markdown.length} characters${packet.truncated ? ', trimmed to fit' : ''}`;
  // Each section's cost in the packet's own units (its Markdown), and what is left of the
  // text (its title and notice), so the rows add up to the packet's characters.
  const body = $('context-costs').tBodies[0];
  const chars = packet.sectionChars ?? {};
  const rest = packet.markdown.length - Object.values(chars).reduce((sum, n) => sum + n, 0);
  body.replaceChildren(
    ...Object.entries(packet.sections).map(([name, section]) =>
      h('tr', {}, h('td', {}, section.ok ? name : `${name} (failed: ${section.error})`),
        h('td', {}, String(packet.sectionTokens?.[name] ?? 0)),
        h('td', {}, String(chars[name] ?? 0)))),
    rest >= 0
      ? h('tr', {}, h('td', {}, 'title, notice and headings'), h('td', {}, ''), h('td', {}, String(rest)))
      : h('tr', {}, h('td', {}, 'cut to fit the budget'), h('td', {}, ''), h('td', {}, String(rest))),
  );
  $('context-costs').hidden = false;
  $('context-markdown').replaceChildren(renderMarkdown(packet.markdown));
});

void connect();
