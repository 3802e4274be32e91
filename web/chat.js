// The demo chat: plain JavaScript on the stock socket.io-client, speaking the
// server's event contract (docs/events.md). Each tab signs in on its own
// (sessionStorage), so two tabs can be two users.
'use strict';

const STORE = 'switchboard-chat';
const HISTORY_PAGE = 30;
const TYPING_IDLE_MS = 3000;

const st = {
  me: null, // {userId, name, token, dev}
  socket: null,
  everConnected: false,
  convs: new Map(), // key -> conversation (below)
  current: null, // key of the open one
  online: new Set(),
  names: new Map(),
  friends: new Set(),
  notifs: [],
  typingSent: 0,
  typingTimer: null,
};

/* ---- signing in ------------------------------------------------------------- */

const slug = (name) => name.trim().toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 32);

async function devToken(name) {
  const r = await fetch('/api/dev/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId: slug(name), name: name.trim() }),
  });
  if (r.status === 404) return null; // not a --dev server
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ? body.error.message : `HTTP ${r.status}`);
  return body;
}

/** The claims of a JWT, unverified: only to show who we are. */
function claimsOf(token) {
  const part = token.split('.')[1] || '';
  return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
}

async function signIn(ev) {
  ev.preventDefault();
  const err = $('#signin-error');
  err.textContent = '';
  const name = $('#name').value.trim();
  const pasted = $('#token').value.trim();
  try {
    let me;
    if (pasted) {
      const c = claimsOf(pasted);
      me = { userId: String(c.sub ?? c.id), name: c.name || name, token: pasted, dev: false };
    } else {
      if (!slug(name)) throw new Error('a name with letters or digits, please');
      const t = await devToken(name);
      if (!t) {
        $('#token-label').hidden = false;
        throw new Error('This server is not in --dev mode: paste a token signed with its --jwt-secret.');
      }
      me = { userId: t.userId, name: t.name, token: t.token, dev: true };
    }
    sessionStorage.setItem(STORE, JSON.stringify(me));
    start(me);
  } catch (e) {
    err.textContent = e.message;
  }
}

function signOut() {
  sessionStorage.removeItem(STORE);
  if (st.socket) st.socket.disconnect();
  location.reload();
}

/* ---- conversations ------------------------------------------------------------ */

function dmId(a, b) {
  const [x, y] = a < b ? [a, b] : [b, a];
  return `dm:${x.length}:${x}:${y}`;
}

function conv(key) {
  let c = st.convs.get(key);
  if (!c) {
    const [kind, id] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    c = { key, kind, id, messages: new Map(), loaded: false, hasMore: false, unread: 0,
      typing: new Map(), readIds: new Set(), pendingRead: new Set() };
    c.conversationId = kind === 'dm' ? dmId(st.me.userId, id) : null;
    st.convs.set(key, c);
  }
  return c;
}

const nameOf = (id) => st.names.get(id) || id;
const isMine = (m) => !m.system && (m.sender ? m.sender.id : m.senderId) === st.me.userId;

/** Adds a message once (by id): replays and history pages never duplicate.
 *  `counts`: a new one the user has not seen (not an old history page). */
function addMessage(c, m, counts = true) {
  if (c.messages.has(m.id)) return false;
  c.messages.set(m.id, m);
  if (m.sender && m.sender.name) st.names.set(m.sender.id, m.sender.name);
  if (counts && !isMine(m) && st.current !== c.key) c.unread++;
  return true;
}

function keyOfDirect(m) {
  const other = m.senderId === st.me.userId ? m.receiverId : m.senderId;
  return m.conversationId.startsWith('dm:') && other ? `dm:${other}` : `group:${m.conversationId}`;
}

/* ---- rendering ---------------------------------------------------------------- */


function renderSide() {
  const rooms = $('#rooms');
  rooms.replaceChildren(...[...st.convs.values()].filter((c) => c.kind === 'room').map((c) =>
    el('li', { className: st.current === c.key ? 'active' : '', dataset: { room: c.id }, onclick: () => open(c.key) },
      el('span', { className: 'label', textContent: `# ${c.id}` }),
      c.unread ? el('span', { className: 'badge unread', textContent: String(c.unread) }) : null)));
  const people = new Set([...st.online, ...[...st.convs.values()].filter((c) => c.kind === 'dm').map((c) => c.id)]);
  people.delete(st.me.userId);
  $('#online-count').textContent = `${st.online.size} online`;
  $('#people').replaceChildren(...[...people].sort().map((id) => {
    const c = st.convs.get(`dm:${id}`);
    const on = st.online.has(id);
    return el('li', { className: st.current === `dm:${id}` ? 'active' : '', dataset: { user: id, online: String(on) },
      title: on ? 'online' : 'offline', onclick: () => open(`dm:${id}`) },
    el('span', { className: `dot${on ? ' on' : ''}` }),
    el('span', { className: 'label', textContent: nameOf(id) }),
    c && c.unread ? el('span', { className: 'badge unread', textContent: String(c.unread) }) : null,
    st.friends.has(id) ? null : el('button', { className: 'small add-friend', textContent: '+', title: 'send a friend request',
      onclick: (e) => { e.stopPropagation(); friendRequest(id); } }));
  }));
  const unread = [...st.convs.values()].reduce((n, c) => n + c.unread, 0) + unreadNotifs();
  document.title = unread ? `(${unread}) Switchboard chat` : 'Switchboard chat';
}

function renderMessages() {
  const c = st.convs.get(st.current);
  if (!c) return;
  const scroller = $('#scroller');
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  const list = [...c.messages.values()].sort((a, b) =>
    (Date.parse(a.createdAt) - Date.parse(b.createdAt)) || (a.id > b.id ? 1 : a.id < b.id ? -1 : 0));
  let lastMine = null;
  for (const m of list) if (isMine(m)) lastMine = m;
  $('#messages').replaceChildren(...list.map((m) => {
    if (m.system) {
      return el('li', { className: 'msg system', dataset: { id: String(m.id) }, textContent: m.message });
    }
    const mine = isMine(m);
    const text = c.kind === 'room' ? m.message : m.content;
    const from = m.sender ? (m.sender.name || m.sender.id) : nameOf(m.senderId);
    const time = new Date(m.createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    let receipt = '';
    if (mine && c.kind !== 'room') receipt = c.readIds.has(m.id) ? ' · ✓✓ read' : ' · ✓ sent';
    return el('li', { className: `msg${mine ? ' mine' : ''}`, dataset: { id: String(m.id) } },
      el('div', { className: 'from', textContent: from }),
      el('div', { className: 'text', textContent: typeof text === 'string' ? text : JSON.stringify(text) }),
      el('div', { className: 'meta' }, time, mine && m === lastMine && receipt
        ? el('span', { className: 'receipt', textContent: receipt }) : receipt));
  }));
  $('#older').hidden = !c.hasMore;
  if (atBottom || c.stickBottom) scroller.scrollTop = scroller.scrollHeight;
  c.stickBottom = false;
}

function renderTyping() {
  const c = st.convs.get(st.current);
  const who = c ? [...c.typing.keys()].map(nameOf) : [];
  $('#typing').textContent = who.length ? `${who.join(', ')} ${who.length > 1 ? 'are' : 'is'} typing…` : '';
}

function renderNotifs() {
  const n = unreadNotifs();
  $('#notif-count').hidden = n === 0;
  $('#notif-count').textContent = String(n);
  $('#notifs').replaceChildren(...st.notifs.slice(0, 20).map((x) =>
    el('li', { className: x.isRead ? '' : 'unread', dataset: { id: String(x.id) } },
      el('div', { textContent: x.message || x.title }),
      x.type === 'friend_request' && x.data && !st.friends.has(x.data.fromUserId)
        ? el('button', { className: 'small accept', textContent: 'Accept', onclick: () => friendAccept(x) }) : null)));
  renderSide();
}

const unreadNotifs = () => st.notifs.filter((x) => !x.isRead).length;

function setConn(state, text) {
  const e = $('#conn');
  e.dataset.state = state;
  e.textContent = text;
  $('#reconnect').hidden = state === 'connected' || state === 'connecting';
}

/* ---- opening a conversation, history -------------------------------------------- */

async function open(key) {
  const was = st.convs.get(st.current);
  if (was && was.key !== key) stopTyping(was);
  const c = conv(key);
  st.current = key;
  c.unread = 0;
  $('#title').textContent = c.kind === 'room' ? `# ${c.id}` : nameOf(c.id);
  $('#subtitle').textContent = c.kind === 'room' ? 'room' : (st.online.has(c.id) ? 'online' : 'offline');
  $('#text').placeholder = c.kind === 'room' ? `Message #${c.id}` : `Message ${nameOf(c.id)}`;
  renderSide();
  renderMessages();
  renderTyping();
  if (!c.loaded) {
    c.loaded = true;
    c.stickBottom = true;
    await loadHistory(c, false, false);
  }
  markRead(c);
}

/** A page of history: the newest (after a reconnect: what was missed counts
 *  as unread), or the one before the oldest message shown. */
async function loadHistory(c, older, counts) {
  const oldest = older ? Math.min(...[...c.messages.keys()].filter((k) => typeof k === 'number')) : undefined;
  const q = { limit: HISTORY_PAGE };
  if (older && Number.isFinite(oldest)) q.before = oldest;
  let page;
  try {
    if (c.kind === 'room') page = await call('chat:history', { roomId: c.id, ...q });
    else page = await call('message:history', { conversationId: c.conversationId, ...q });
  } catch (e) {
    page = { messages: [], hasMore: false }; // a direct conversation not started yet
  }
  for (const m of page.messages) addMessage(c, m, counts);
  if (older || !c.pagedBack) c.hasMore = !!page.hasMore;
  if (older) c.pagedBack = true;
  renderSide();
  if (st.current === c.key) renderMessages();
  markRead(c);
}

/** An emit with an ack: rejects on an error answer or after 8 s. */
function call(event, payload) {
  return st.socket.timeout(8000).emitWithAck(event, payload).then((r) => {
    if (r && r.error) throw Object.assign(new Error(r.error.message || r.error.code || 'error'), { code: r.error.code });
    if (r && r.ok === false) throw new Error(r.code || 'error');
    return r;
  });
}

/* ---- read receipts -------------------------------------------------------------- */

function markRead(c) {
  if (c.kind === 'room' || st.current !== c.key || document.hidden || !st.socket?.connected) return;
  const ids = [...c.messages.values()].filter((m) => !m.system && !isMine(m) && !c.pendingRead.has(m.id)).map((m) => m.id);
  if (!ids.length) return;
  for (const id of ids) c.pendingRead.add(id);
  for (let i = 0; i < ids.length; i += 100) {
    call('mark-read', { conversationId: c.conversationId, messageIds: ids.slice(i, i + 100) })
      .catch(() => { for (const id of ids) c.pendingRead.delete(id); });
  }
}

/* ---- sending and typing ---------------------------------------------------------- */

async function send(ev) {
  ev.preventDefault();
  const input = $('#text');
  const text = input.value.trim();
  const c = st.convs.get(st.current);
  if (!text || !c) return;
  input.value = '';
  stopTyping(c);
  const clientMessageId = crypto.randomUUID();
  try {
    if (c.kind === 'room') {
      addMessage(c, await call('chat:message', { roomId: c.id, message: text, clientMessageId }));
    } else {
      addMessage(c, await call('message:send', { receiverId: c.id, content: text, clientMessageId }));
    }
    c.stickBottom = true;
    renderMessages();
  } catch (e) {
    input.value = text;
    $('#typing').textContent = `not sent: ${e.message}`;
  }
}

function typing() {
  const c = st.convs.get(st.current);
  if (!c || !st.socket?.connected || !$('#text').value) return;
  const now = Date.now();
  if (now - st.typingSent > 2000) {
    st.typingSent = now;
    if (c.kind === 'room') st.socket.emit('chat:typing', { roomId: c.id, isTyping: true });
    else st.socket.emit('message:typing', { conversationId: c.conversationId, receiverId: c.id });
  }
  clearTimeout(st.typingTimer);
  st.typingTimer = setTimeout(() => stopTyping(c), TYPING_IDLE_MS);
}

function stopTyping(c) {
  clearTimeout(st.typingTimer);
  if (!st.typingSent || !st.socket?.connected) return;
  st.typingSent = 0;
  if (c.kind === 'room') st.socket.emit('chat:typing', { roomId: c.id, isTyping: false });
  else st.socket.emit('message:stop_typing', { conversationId: c.conversationId, receiverId: c.id });
}

function showTyping(c, userId, on) {
  clearTimeout(c.typing.get(userId));
  if (on) c.typing.set(userId, setTimeout(() => showTyping(c, userId, false), 6000));
  else c.typing.delete(userId);
  if (st.current === c.key) renderTyping();
}

/* ---- friends and notifications ---------------------------------------------------- */

function friendRequest(id) {
  call('friend:request', { toUserId: id }).then(() => {
    st.friends.add(id); // asked: no second button
    renderSide();
  }).catch((e) => { $('#typing').textContent = `friend request: ${e.message}`; });
}

function friendAccept(n) {
  call('friend:accept', { requestId: n.data.requestId }).catch(() => {}).finally(() => {
    st.friends.add(n.data.fromUserId);
    readNotif(n);
  });
}

function readNotif(n) {
  if (n.isRead) return renderNotifs();
  n.isRead = true;
  renderNotifs();
  call('notification:mark_read', n.id).catch(() => {});
}

function addNotif(n) {
  if (st.notifs.some((x) => x.id === n.id)) return;
  st.notifs.push(n);
  st.notifs.sort((a, b) => b.id - a.id);
  renderNotifs();
}

/* ---- the connection ---------------------------------------------------------------- */

async function joinRooms() {
  for (const c of st.convs.values()) {
    if (c.kind !== 'room') continue;
    await call('chat:join', c.id).catch(() => {});
  }
}

/** After a reconnect: recovery replays direct messages and notifications;
 *  room messages said meanwhile come from the history (once: kept by id). */
async function catchUp() {
  await joinRooms();
  for (const c of st.convs.values()) if (c.loaded) await loadHistory(c, false, true);
  const { notifications } = await call('notification:list', { unreadOnly: true }).catch(() => ({ notifications: [] }));
  for (const n of notifications) addNotif(n);
}

function wire(s) {
  s.on('connect', async () => {
    setConn('connected', s.recovered ? 'connected (session recovered)' : 'connected');
    const first = !st.everConnected;
    st.everConnected = true;
    if (first) {
      await joinRooms();
      const { notifications } = await call('notification:list', {}).catch(() => ({ notifications: [] }));
      for (const n of notifications) addNotif(n);
      await open(st.current || 'room:lobby');
    } else {
      await catchUp();
    }
  });
  s.on('disconnect', (reason) => {
    // A server-side disconnect (the dashboard, an expired token) is final:
    // the client does not reconnect by itself.
    if (reason === 'io server disconnect' || reason === 'io client disconnect') setConn('offline', `disconnected (${reason})`);
    else setConn('reconnecting', `reconnecting… (${reason})`);
  });
  s.io.on('reconnect_attempt', (n) => setConn('reconnecting', `reconnecting… (attempt ${n})`));
  s.on('connect_error', async (e) => {
    const code = e.data && e.data.code;
    setConn('offline', `cannot connect: ${e.message}`);
    if (code === 'token_expired' && st.me.dev) { // --dev: ask for a fresh one
      const t = await devToken(st.me.name).catch(() => null);
      if (t) { st.me.token = t.token; s.auth = { token: t.token }; sessionStorage.setItem(STORE, JSON.stringify(st.me)); s.connect(); }
    }
  });
  s.on('connection:established', ({ onlineUsers }) => {
    st.online = new Set(onlineUsers);
    renderSide();
  });
  s.on('user:online', ({ userId }) => { st.online.add(userId); renderSide(); refreshSubtitle(); });
  s.on('user:offline', ({ userId }) => { st.online.delete(userId); renderSide(); refreshSubtitle(); });
  s.on('presence:batch', ({ online, offline }) => {
    for (const id of online) st.online.add(id);
    for (const o of offline) st.online.delete(o.userId);
    renderSide();
    refreshSubtitle();
  });
  s.on('chat:user_joined', ({ userId, name }) => { if (name) st.names.set(userId, name); });
  s.on('chat:message', (m) => {
    const c = conv(`room:${m.roomId}`);
    if (m.sender) showTyping(c, m.sender.id, false);
    if (addMessage(c, m)) { renderSide(); if (st.current === c.key) renderMessages(); }
  });
  s.on('chat:typing', ({ roomId, userId, isTyping }) => showTyping(conv(`room:${roomId}`), userId, isTyping));
  const direct = (m) => {
    const c = conv(keyOfDirect(m));
    showTyping(c, m.senderId, false);
    if (addMessage(c, m)) { renderSide(); if (st.current === c.key) { renderMessages(); markRead(c); } }
  };
  s.on('message:received', (m, confirm) => { direct(m); if (typeof confirm === 'function') confirm(); });
  s.on('message:sent', direct);
  s.on('typing:start', ({ conversationId, userId }) => { if (userId !== st.me.userId) showTyping(conv(`dm:${userId}`), userId, true); });
  s.on('typing:stop', ({ userId }) => showTyping(conv(`dm:${userId}`), userId, false));
  s.on('messages-read', ({ conversationId, messageIds, readBy }) => {
    if (readBy === st.me.userId) return;
    for (const c of st.convs.values()) {
      if (c.conversationId !== conversationId) continue;
      for (const id of messageIds) c.readIds.add(id);
      if (st.current === c.key) renderMessages();
    }
  });
  s.on('notification:new', (n, confirm) => { addNotif(n); if (typeof confirm === 'function') confirm(); });
  s.on('notification:read', ({ notificationId }) => {
    const n = st.notifs.find((x) => x.id === notificationId);
    if (n) { n.isRead = true; renderNotifs(); }
  });
  let systemSeq = 0;
  s.on('system_message', ({ message, roomId, timestamp }) => { // the backend's or the dashboard's
    const c = conv(roomId ? `room:${roomId}` : (st.current || 'room:lobby'));
    c.messages.set(`sys-${++systemSeq}`, { id: `sys-${systemSeq}`, system: true, message: String(message),
      createdAt: new Date(timestamp || Date.now()).toISOString() });
    if (st.current === c.key) renderMessages();
  });
  s.on('friend:accepted', ({ userId }) => { st.friends.add(userId); renderSide(); });
  s.on('error', (e) => { if (e && e.code === 'token_expired') setConn('offline', 'token expired'); });
}

function refreshSubtitle() {
  const c = st.convs.get(st.current);
  if (c && c.kind === 'dm') $('#subtitle').textContent = st.online.has(c.id) ? 'online' : 'offline';
}

function start(me) {
  st.me = me;
  st.names.set(me.userId, me.name);
  $('#signin').hidden = true;
  $('#app').hidden = false;
  $('#me-name').textContent = me.name;
  $('#me-id').textContent = `@${me.userId}`;
  conv('room:lobby');
  conv('room:random');
  st.current = 'room:lobby';
  // WebSocket first (polling if it fails): typing indicators are volatile
  // events, which a polling client between two requests never gets.
  st.socket = io({ auth: { token: me.token }, transports: ['websocket', 'polling'], tryAllTransports: true });
  wire(st.socket);
}

/* ---- the page ------------------------------------------------------------------------ */

$('#signin-form').addEventListener('submit', signIn);
$('#signout').addEventListener('click', signOut);
$('#reconnect').addEventListener('click', () => { if (st.socket && !st.socket.connected) st.socket.connect(); });
$('#composer').addEventListener('submit', send);
$('#text').addEventListener('input', typing);
$('#older').addEventListener('click', () => { const c = st.convs.get(st.current); if (c) loadHistory(c, true, false); });
$('#notif-btn').addEventListener('click', () => {
  const list = $('#notifs');
  list.hidden = !list.hidden;
  if (!list.hidden) for (const n of st.notifs) if (!n.isRead && n.type !== 'friend_request') readNotif(n);
});
$('#join-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const name = $('#join-room').value.trim();
  if (!name) return;
  $('#join-room').value = '';
  try {
    await call('chat:join', name);
    open(`room:${name}`);
  } catch (e) {
    $('#typing').textContent = `cannot join ${name}: ${e.message}`;
  }
});
document.addEventListener('visibilitychange', () => { const c = st.convs.get(st.current); if (c) markRead(c); });

const saved = sessionStorage.getItem(STORE);
if (saved) start(JSON.parse(saved));
