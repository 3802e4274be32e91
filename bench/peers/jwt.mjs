// HS256 JWT authentication as Switchboard does it (docs/events.md): the
// token in auth.token or an Authorization: Bearer header; sub (or id) is the
// user. Shared by the peers that serve the built-in contract.
import { createHmac, timingSafeEqual } from 'node:crypto';

function authError(code, what) {
  const e = new Error(`Authentication error: ${what}`);
  e.data = { code };
  return e;
}

/** Returns the claims of a valid HS256 token, or throws an auth error. */
function verify(secret, token) {
  const parts = token.split('.');
  if (parts.length !== 3) throw authError('token_invalid', 'invalid token');
  let header; let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw authError('token_invalid', 'invalid token');
  }
  if (!header || header.alg !== 'HS256' || !claims || typeof claims !== 'object') {
    throw authError('token_invalid', 'invalid token');
  }
  const want = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const got = Buffer.from(parts[2], 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw authError('token_invalid', 'invalid token');
  if (typeof claims.exp !== 'number') throw authError('token_invalid', 'invalid token');
  if (claims.exp * 1000 <= Date.now() - 30000) throw authError('token_expired', 'token expired');
  const id = claims.sub ?? claims.id;
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '') {
    throw authError('token_invalid', 'invalid token');
  }
  return claims;
}

function tokenOf(handshake) {
  const auth = handshake.auth || {};
  if (typeof auth.token === 'string' && auth.token) return auth.token;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(handshake.headers.authorization || '');
  return m ? m[1] : null;
}

/** socket.io middleware: socket.data.userId and .name from a valid token. */
export function jwtMiddleware(secret) {
  return (socket, next) => {
    const token = tokenOf(socket.handshake);
    if (!token) return next(authError('token_missing', 'token missing'));
    try {
      const claims = verify(secret, token);
      socket.data.userId = String(claims.sub ?? claims.id);
      socket.data.name = typeof claims.name === 'string' ? claims.name : socket.data.userId;
      return next();
    } catch (e) {
      return next(e);
    }
  };
}
