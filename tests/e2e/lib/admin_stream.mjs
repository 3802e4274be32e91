// The dashboard's stream (GET /api/admin/stream) read until a snapshot
// satisfies a predicate: for tests that wait on what a server reports.
import http from 'node:http';

/** Resolves with the first `metrics` snapshot for which pred(snapshot) is
 *  true; rejects after timeoutMs. The stream is closed either way. */
export function adminSnapshot(srv, key, pred = () => true, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    let req;
    const timer = setTimeout(() => { req.destroy(); reject(new Error('no matching dashboard snapshot')); }, timeoutMs);
    req = http.get(`${srv.url}/api/admin/stream`, { headers: { Authorization: `Bearer ${key}` } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        for (let end; (end = buf.indexOf('\n\n')) >= 0;) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('');
          if (!block.includes('event: metrics') || !data) continue;
          const s = JSON.parse(data);
          if (pred(s)) {
            clearTimeout(timer);
            req.destroy();
            resolve(s);
            return;
          }
        }
      });
    });
    req.on('error', () => {});
  });
}
