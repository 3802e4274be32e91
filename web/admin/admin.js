// The admin dashboard: reads GET /api/admin/stream (Server-Sent Events, one
// snapshot a second, behind the API key) with fetch, since EventSource cannot
// send an Authorization header; rates are differences between snapshots.
'use strict';

const KEY = 'switchboard-admin-key';
const WINDOW = 300; // points on the chart: 5 minutes of one a second
const series = { in: [], out: [], deliveries: [] };
let prev = null;
let last = null;
let abort = null;

const auth = () => ({ Authorization: `Bearer ${sessionStorage.getItem(KEY)}` });


const row = (...cells) => el('tr', {}, ...cells.map((c) => (c instanceof Node ? el('td', {}, c) : el('td', { textContent: String(c) }))));

function figure(id, value) {
  const f = $(id);
  f.firstChild.nodeValue = String(value);
}

/* ---- the stream ------------------------------------------------------------------- */

async function stream() {
  abort = new AbortController();
  let r;
  try {
    r = await fetch('/api/admin/stream', { headers: auth(), signal: abort.signal });
  } catch (e) {
    return retry('cannot reach the server');
  }
  if (r.status === 401) {
    sessionStorage.removeItem(KEY);
    showLogin('That API key is not this server\'s.');
    return;
  }
  if (!r.ok) return retry(`HTTP ${r.status}`);
  $('#stream-state').textContent = '● live';
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (e) {
      return retry('stream lost');
    }
    if (chunk.done) return retry('stream ended');
    buf += chunk.value;
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      onEvent(block);
    }
  }
}

function retry(why) {
  if (!sessionStorage.getItem(KEY)) return;
  $('#stream-state').textContent = `reconnecting… (${why})`;
  setTimeout(stream, 2000);
}

function onEvent(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (event === 'metrics' && data.length) render(JSON.parse(data.join('\n')));
}

/* ---- panels ----------------------------------------------------------------------- */

function render(s) {
  last = s;
  figure('#fig-connections', s.connections.total);
  figure('#fig-websocket', s.connections.websocket);
  figure('#fig-polling', s.connections.polling);
  figure('#fig-plain-ws', s.connections.plainWebsocket);
  figure('#fig-sse', s.connections.sse);
  figure('#fig-sockets', s.sockets);
  figure('#fig-users', s.onlineUsers);
  figure('#fig-rooms', s.rooms.length);
  figure('#fig-events-in', s.counters.eventsIn);
  figure('#fig-events-out', s.counters.eventsOut);
  figure('#fig-packets-out', s.counters.packetsOut);
  $('#uptime').textContent = `up ${Math.round(s.uptimeMs / 1000)} s`;
  $('#nsps').replaceChildren(...s.namespaces.map((n) => row(n.name, n.sockets)));
  renderUsers(s.users);
  renderRooms();
  renderLimits(s);
  $('#store').replaceChildren(row('state', s.store.state), row('queue (requests waiting)', s.store.queue),
    row('commits', s.store.commits),
    row('commit time (ms): last / avg / max', ['last', 'avg', 'max'].map((k) => ms(s.store.commitMs[k])).join(' / ')),
    row('write errors', s.store.writeErrors),
    ...(s.store.reason ? [row('reason', s.store.reason)] : []),
    ...(s.nodes
      ? [row('cluster nodes', s.nodes.count || '…'), row('this node', s.nodes.self),
         row('Redis', s.nodes.redisUp ? 'up' : 'down')]
      : [row('nodes', 'this one (no cluster)')]));
  renderNodes(s.nodes);
  if (prev) {
    const dt = Math.max(0.001, (s.time - prev.time) / 1000);
    push(series.in, (s.counters.eventsIn - prev.counters.eventsIn) / dt);
    push(series.out, (s.counters.eventsOut - prev.counters.eventsOut) / dt);
    push(series.deliveries, (s.counters.packetsOut - prev.counters.packetsOut) / dt);
    $('#rates').textContent = `now: ${fmt(series.in.at(-1))} in, ${fmt(series.out.at(-1))} out, ${fmt(series.deliveries.at(-1))} deliveries /s`;
    drawChart();
  }
  prev = s;
}

const ms = (x) => (x >= 10 ? Math.round(x) : Math.round(x * 100) / 100).toString();
const fmt = (x) => (x >= 100 ? Math.round(x) : Math.round(x * 10) / 10).toString();

function push(a, v) {
  a.push(v);
  if (a.length > WINDOW) a.shift();
}

// One row per live Switchboard node of the cluster, from their heartbeats.
function renderNodes(nodes) {
  $('#nodes-panel').hidden = !nodes;
  if (!nodes) return;
  const list = [...(nodes.list || [])].sort((a, b) => (b.self - a.self) || a.id.localeCompare(b.id));
  $('#nodes').replaceChildren(...list.map((n) => {
    const f = n.figures || {};
    const c = f.connections || {};
    const tr = row(n.self ? `${n.id} (this one)` : n.id, c.total ?? '', c.websocket ?? '', c.polling ?? '',
      f.sockets ?? '', f.users ?? '', fmt(f.inPerSec || 0), fmt(f.outPerSec || 0), f.storeQueue ?? '',
      `${(n.heartbeatAgeMs / 1000).toFixed(1)} s ago`);
    tr.dataset.node = n.id;
    return tr;
  }));
}

function renderUsers(users) {
  $('#users').replaceChildren(...users.sort((a, b) => a.id.localeCompare(b.id)).map((u) =>
    el('tr', { dataset: { user: u.id } },
      el('td', { textContent: u.id }),
      el('td', { textContent: String(u.devices) }),
      el('td', { className: 'small' }, ...u.sockets.map((sid) => el('div', {}, sid, ' ',
        el('button', { className: 'small link disconnect-socket', textContent: '×', title: 'disconnect this socket',
          onclick: () => disconnect({ socketId: sid }) })))),
      el('td', {}, el('button', { className: 'small danger disconnect', textContent: 'Disconnect',
        onclick: () => disconnect({ userId: u.id }) })))));
}

function renderRooms() {
  if (!last) return;
  const q = $('#room-search').value.trim().toLowerCase();
  const rooms = last.rooms.filter((r) => r.name.toLowerCase().includes(q)).sort((a, b) => b.members - a.members || a.name.localeCompare(b.name));
  $('#rooms').replaceChildren(...rooms.map((r) => {
    const tr = row(r.name, r.elsewhere ? 'other nodes' : r.members);
    tr.dataset.room = r.name;
    tr.onclick = () => { $('#emit-room').value = r.name; };
    return tr;
  }));
}

function renderLimits(s) {
  const c = s.counters;
  $('#limits').replaceChildren(row('rate-limited events', c.rateLimited), row('slow consumers cut', c.slowConsumers),
    row('protocol errors', c.protocolErrors), row('connections refused', c.connectionsRefused),
    row('handshakes refused', c.handshakesRefused), row('volatile events dropped', c.volatileDropped),
    row('output queued, bytes', c.outqBytes));
  const limited = s.rateLimited.filter((e) => e.n > 0);
  $('#limited').replaceChildren(...(limited.length ? limited.map((e) => row(e.event, e.n)) : [row('none', '')]));
  $('#errors').replaceChildren(...(s.errors.length ? s.errors.map((e) => row(e.code, e.n)) : [row('none', '')]));
}

function drawChart() {
  const cv = $('#chart');
  const g = cv.getContext('2d');
  const w = cv.width;
  const h = cv.height;
  g.clearRect(0, 0, w, h);
  const max = Math.max(1, ...series.in, ...series.out, ...series.deliveries) * 1.15;
  g.strokeStyle = '#e1e4ea';
  g.fillStyle = '#6b7385';
  g.font = '12px system-ui';
  for (let i = 0; i <= 4; i++) {
    const y = h - (h - 10) * (i / 4);
    g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    if (i) g.fillText(fmt((max * i) / 4), 4, y + 12);
  }
  const line = (a, color) => {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    a.forEach((v, i) => {
      const x = w - (a.length - 1 - i) * (w / (WINDOW - 1));
      const y = h - (h - 10) * (v / max);
      if (i) g.lineTo(x, y); else g.moveTo(x, y);
    });
    g.stroke();
  };
  line(series.deliveries, '#d97706');
  line(series.out, '#1f9d55');
  line(series.in, '#3b6ef5');
}

/* ---- actions ---------------------------------------------------------------------- */

async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers: { ...auth(), 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const json = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(json.error ? json.error.message : `HTTP ${r.status}`);
  return json;
}

async function disconnect(target) {
  try {
    const r = await post('/api/admin/disconnect', target);
    $('#emit-result').textContent = `disconnected ${r.disconnected} socket(s) of ${target.userId || target.socketId}`;
  } catch (e) {
    $('#emit-result').textContent = `disconnect failed: ${e.message}`;
  }
}

$('#emit-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const room = $('#emit-room').value.trim();
  const message = $('#emit-text').value.trim();
  try {
    const r = await post('/api/emit', { to: { room }, event: 'system_message',
      data: { message, type: 'test', roomId: room, timestamp: Date.now() } });
    $('#emit-result').textContent = `sent to ${r.recipients} socket(s) in ${room}`;
  } catch (e) {
    $('#emit-result').textContent = `emit failed: ${e.message}`;
  }
});

/* ---- the page --------------------------------------------------------------------- */

function showLogin(error) {
  if (abort) abort.abort();
  $('#dash').hidden = true;
  $('#login').hidden = false;
  $('#login-error').textContent = error || '';
}

function showDash() {
  $('#login').hidden = true;
  $('#dash').hidden = false;
  stream();
}

$('#key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $('#key').value.trim());
  $('#key').value = '';
  showDash();
});
$('#signout').addEventListener('click', () => { sessionStorage.removeItem(KEY); showLogin(); });
$('#room-search').addEventListener('input', renderRooms);

if (sessionStorage.getItem(KEY)) showDash();
