// Section C: authentication of the main server (JWT HS256).
import { before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import {
  test, connect, connectError, client, waitFor, mintToken, mintNoneToken,
} from './lib/util.mjs';

let srv;
before(async () => { srv = await startServer('switchboard'); });
after(async () => { if (srv) await srv.stop(); });

const BOTH = [['websocket'], ['polling']];

function assertAuthError(err, code) {
  assert.ok(err.message.startsWith('Authentication error'), `message: ${err.message}`);
  assert.equal(err.data && err.data.code, code, `data: ${JSON.stringify(err.data)}`);
}

test('no token -> token_missing', async () => {
  for (const transports of BOTH) {
    assertAuthError(await connectError(srv.url, { transports }), 'token_missing');
    assertAuthError(await connectError(srv.url, { transports, auth: {} }), 'token_missing');
    assertAuthError(await connectError(srv.url, { transports, auth: { token: '' } }), 'token_missing');
  }
});

test('bad signature, alg none, garbage -> token_invalid', async () => {
  const bad = [
    mintToken({ sub: 'u1', name: 'U' }, 'wrong-secret'),
    mintNoneToken({ sub: 'u1', name: 'U' }),
    mintToken({ sub: 'u1' }, srv.secret, { alg: 'HS512', typ: 'JWT' }),
    'not-a-jwt',
    'a.b.c',
    mintToken({ sub: 'u1' }, srv.secret).slice(0, -3) + 'AAA',
  ];
  for (const token of bad) {
    for (const transports of BOTH) {
      assertAuthError(await connectError(srv.url, { transports, auth: { token } }), 'token_invalid');
    }
  }
});

test('token without a user id -> token_invalid', async () => {
  const token = mintToken({ name: 'nobody' }, srv.secret);
  assertAuthError(await connectError(srv.url, { transports: ['websocket'], auth: { token } }), 'token_invalid');
});

test('token without exp -> token_invalid (exp is required by default)', async () => {
  const token = mintToken({ sub: 'noexp', exp: null }, srv.secret);
  assertAuthError(await connectError(srv.url, { transports: ['websocket'], auth: { token } }), 'token_invalid');
});

test('expired token -> token_expired', async () => {
  const token = mintToken({ sub: 'old', name: 'Old', exp: Math.floor(Date.now() / 1000) - 60 }, srv.secret);
  for (const transports of BOTH) {
    assertAuthError(await connectError(srv.url, { transports, auth: { token } }), 'token_expired');
  }
});

test('good token in auth.token connects (both transports, and upgrade)', async () => {
  for (const extra of [{ transports: ['websocket'] }, { transports: ['polling'] }, {}]) {
    const token = mintToken({ sub: 'alice', name: 'Alice' }, srv.secret);
    const s = await connect(srv.url, { ...extra, auth: { token } });
    assert.equal(s.connected, true);
    s.disconnect();
  }
});

test('id claim is accepted as the user id; sub wins over id', async () => {
  const byId = client(srv.url, { transports: ['websocket'], auth: { token: mintToken({ id: 'by-id', name: 'ById' }, srv.secret) } });
  assert.equal((await waitFor(byId, 'connection:established')).userId, 'by-id');
  const both = client(srv.url, { transports: ['websocket'], auth: { token: mintToken({ sub: 'the-sub', id: 'the-id' }, srv.secret) } });
  assert.equal((await waitFor(both, 'connection:established')).userId, 'the-sub');
});

test('Authorization: Bearer header connects (polling and websocket)', async () => {
  for (const transports of BOTH) {
    const token = mintToken({ sub: `bearer-${transports[0]}`, name: 'B' }, srv.secret);
    const s = await connect(srv.url, { transports, extraHeaders: { Authorization: `Bearer ${token}` } });
    assert.equal(s.connected, true);
    const bad = mintToken({ sub: 'x' }, 'nope');
    assertAuthError(await connectError(srv.url, { transports, extraHeaders: { Authorization: `Bearer ${bad}` } }), 'token_invalid');
  }
});

test('?token= query is ignored unless --allow-query-token', async () => {
  const token = mintToken({ sub: 'q', name: 'Q' }, srv.secret);
  for (const transports of BOTH) {
    assertAuthError(await connectError(srv.url, { transports, query: { token } }), 'token_missing');
  }
});

describe('with --allow-query-token', () => {
  let qsrv;
  before(async () => { qsrv = await startServer('switchboard', { args: ['--allow-query-token'] }); });
  after(async () => { if (qsrv) await qsrv.stop(); });

  test('?token= query connects', async () => {
    const token = mintToken({ sub: 'q', name: 'Q' }, qsrv.secret);
    for (const transports of BOTH) {
      const s = await connect(qsrv.url, { transports, query: { token } });
      assert.equal(s.connected, true);
    }
    const bad = mintToken({ sub: 'q' }, 'wrong');
    assertAuthError(await connectError(qsrv.url, { transports: ['websocket'], query: { token: bad } }), 'token_invalid');
  });
});
