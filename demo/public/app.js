// The crmsync demo dashboard. Polls the demo server for the cluster state, the
// conflicts and the chosen record; receives the merged change feed over SSE; sends the
// controls (laptop offline/online, cut/restore a region link, edit a record, resolve a
// conflict), each carrying the demo token from the URL the demo printed.
import { api, clockTime, demoToken, fill, h, poll, setAttr, setText } from './dom.js';
import { renderCards, renderLinks, renderTopology } from './cluster-view.js';
import { renderVerdict } from './verdict-view.js';
import { renderConflicts, upsertFeedItem } from './work-view.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const FIELDS = [
  ['title', 'title'], ['phone', 'phone'], ['email', 'email'], ['stage', 'stage'], ['owner', 'owner'],
  ['company', 'company'], ['territory', 'territory'], ['name', 'name'], ['notes', 'notes (replace)'], ['addTag', 'tags (add one)'],
];
let latest;
/** Nodes whose resolve endpoint answered 404 (an engine without it): no button for them. */
const noResolve = new Set();

// ---- controls ------------------------------------------------------------------------

async function control(button, path) {
  button.disabled = true;
  const result = $('control-result');
  try {
    await api('POST', path);
    setText(result, '');
    await refreshState();
  } catch (err) {
    setText(result, `✗ ${err.message}`);
    if (err.status === 401) $('token-notice').hidden = false;
  } finally {
    button.disabled = false;
    if (latest) render(latest);
  }
}

const onLaptop = (name, online, button) => control(button, `/api/laptops/${encodeURIComponent(name)}/${online ? 'online' : 'offline'}`);
const onRegionLink = (a, b, restore, button) => control(button, `/api/links/${encodeURIComponent(a)}/${encodeURIComponent(b)}/${restore ? 'restore' : 'cut'}`);

function render(state) {
  renderVerdict($, state);
  renderCards($('node-cards'), state, onLaptop);
  renderLinks($('links'), state, onRegionLink);
  renderTopology($('topology'), state);
  const picker = $('edit-node');
  if (picker.options.length === 0) fill(picker, state.nodes.map((n) => h('option', { value: n.name }, `${n.name} (${n.role})`)));
  setText($('updated-at'), `updated ${clockTime(state.at)}`);
}

async function refreshState() {
  try {
    latest = await api('GET', '/api/state');
    $('offline-banner').hidden = true;
    render(latest);
  } catch (err) {
    $('offline-banner').hidden = false;
    throw err;
  }
}

// ---- editing -------------------------------------------------------------------------

function patchFor(field, value) {
  if (field === 'addTag') return { addTags: [value] };
  if (field === 'notes') return { notes: value };
  return { [field]: value === '' ? null : value };
}

function shown(customer, field) {
  if (!customer) return '(missing)';
  if (field === 'addTag') return customer.tags.join(', ') || '—';
  const value = customer[field];
  return value === undefined || value === null || value === '' ? '—' : String(value);
}

async function loadRecords() {
  const { records } = await api('GET', '/api/records');
  fill($('edit-record'), records.map((r) => h('option', { value: r.id }, `${r.id} — ${r.name}${r.company ? ` (${r.company})` : ''}`)));
}

async function submitEdit(event) {
  event.preventDefault();
  const node = $('edit-node').value;
  const id = $('edit-record').value;
  const field = $('edit-field').value;
  const value = $('edit-value').value.trim();
  const result = $('edit-result');
  const submit = $('edit-submit');
  submit.disabled = true;
  setAttr(result, 'data-state', 'pending');
  setText(result, `Saving on ${node}…`);
  try {
    await api('PATCH', `/api/nodes/${encodeURIComponent(node)}/v1/customers/${encodeURIComponent(id)}`, patchFor(field, value));
    setAttr(result, 'data-state', 'ok');
    setText(result, `✓ Saved on ${node}: ${id} ${field} = "${value}"`);
    await refreshRecord();
  } catch (err) {
    setAttr(result, 'data-state', 'error');
    setText(result, `✗ ${node} refused: ${err.message}`);
    if (err.status === 401) $('token-notice').hidden = false;
  } finally {
    submit.disabled = false;
  }
}

async function refreshRecord() {
  const id = $('edit-record').value;
  const field = $('edit-field').value;
  if (!id) return;
  const { nodes } = await api('GET', `/api/records/${encodeURIComponent(id)}`);
  setText($('record-view-field'), field === 'addTag' ? 'tags' : field);
  const values = new Set(nodes.map((n) => shown(n.customer, field)));
  fill($('record-view').tBodies[0], nodes.map((n) => h('tr', { 'data-testid': `record-view-${n.node}`, class: values.size > 1 ? 'differs' : '' },
    h('th', {}, n.node),
    h('td', { 'data-testid': `record-value-${n.node}` }, n.error ? `error: ${n.error}` : shown(n.customer, field)),
    h('td', {}, n.customer?.conflicts.join(', ') || '—'),
    h('td', {}, n.customer ? clockTime(n.customer.updatedAt) : '—'))));
}

// ---- conflicts and feed ----------------------------------------------------------------

async function resolve(row, value, button) {
  button.disabled = true;
  const path = `/api/nodes/${encodeURIComponent(row.resolveVia)}/v1/customers/${encodeURIComponent(row.id)}/conflicts/${encodeURIComponent(row.field)}/resolve`;
  try {
    // The value itself: the node keeps the concurrent value equal to it (typed: a number stays one).
    await api('POST', path, { keep: value.value });
    await refreshConflicts();
  } catch (err) {
    // An engine without the endpoint answers 404: stop offering the button for that node.
    if (err.status === 404) noResolve.add(row.resolveVia);
    else button.disabled = false;
    if (err.status === 401) $('token-notice').hidden = false;
    await refreshConflicts();
  }
}

/** The conflicts panel's filters as a query string (empty fields filter nothing). */
function conflictQuery() {
  const query = new URLSearchParams();
  for (const name of ['territory', 'owner']) {
    const value = $(`conflict-${name}`).value.trim();
    if (value) query.set(name, value);
  }
  return query.size ? `?${query}` : '';
}

async function refreshConflicts() {
  const { conflicts } = await api('GET', `/api/conflicts${conflictQuery()}`);
  const canResolve = (row) => row.resolveVia !== null && !noResolve.has(row.resolveVia);
  renderConflicts($('conflicts'), $('conflict-count'), conflicts, latest?.nodes.length ?? 0, canResolve, resolve);
}

function startFeed() {
  const source = new EventSource('/api/events');
  source.addEventListener('feed', (message) => {
    const item = JSON.parse(message.data);
    const names = latest?.nodes.map((n) => n.name) ?? item.reached;
    upsertFeedItem($('feed'), item, names);
  });
}

// ---- start ---------------------------------------------------------------------------

$('token-notice').hidden = Boolean(demoToken());
fill($('edit-field'), FIELDS.map(([value, label]) => h('option', { value }, label)));
$('edit-form').addEventListener('submit', submitEdit);
$('edit-record').addEventListener('change', () => void refreshRecord());
$('edit-field').addEventListener('change', () => void refreshRecord());
$('conflict-filter').addEventListener('submit', (event) => {
  event.preventDefault();
  void refreshConflicts();
});
poll(refreshState, 1000);
poll(refreshConflicts, 1500);
poll(refreshRecord, 1500);
void loadRecords().then(refreshRecord).catch((err) => console.warn(err));
startFeed();
