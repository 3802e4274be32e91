// Certificates made by the test with the openssl CLI: a root CA, an
// intermediate CA and a server certificate for 127.0.0.1 / localhost signed
// by the intermediate, so the server must send its chain for a client that
// trusts only the root to accept it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A P-256 key and a certificate with subject CN=`cn`, signed by `ca` (or
 *  self-signed when ca is null). `ext` is the extension config text. */
function issue(dir, name, cn, ca, ext) {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  writeFileSync(path.join(dir, `${name}.ext`), ext);
  if (!ca) {
    openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-days', '2',
      '-extensions', 'v3', '-config', `${name}.ext`, '-out', `${name}.pem`], dir);
    return;
  }
  openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-extensions', 'v3', '-out', `${name}.pem`], dir);
}

const CA_EXT = '[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n';
const LEAF_EXT = '[v3]\nbasicConstraints=CA:false\nkeyUsage=critical,digitalSignature\n' +
  'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n';

/** Makes a test PKI in a temp dir. Returns { dir, ca (PEM text of the root),
 *  caPath, cert (chain path), key (path), leaf(cn) -> {cert, key} for more
 *  server certificates under the same intermediate, cleanup() }. */
export function makePki() {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-tls-'));
  issue(dir, 'root', 'Switchboard Test Root', null, CA_EXT);
  issue(dir, 'inter', 'Switchboard Test Intermediate', 'root', CA_EXT.replace(/^\[req\][^[]*\[dn\]\n/, ''));
  const leaf = (cn) => {
    const name = `leaf-${cn}`;
    issue(dir, name, cn, 'inter', LEAF_EXT);
    const chain = path.join(dir, `${name}-chain.pem`);
    writeFileSync(chain, readFileSync(path.join(dir, `${name}.pem`), 'utf8') +
      readFileSync(path.join(dir, 'inter.pem'), 'utf8'));
    return { cert: chain, key: path.join(dir, `${name}.key`) };
  };
  const first = leaf('localhost');
  return {
    dir,
    caPath: path.join(dir, 'root.pem'),
    ca: readFileSync(path.join(dir, 'root.pem'), 'utf8'),
    cert: first.cert,
    key: first.key,
    leaf,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
