/**
 * Test certificates made with openssl in `dir`: a CA (`ca.crt`), a server certificate for
 * 127.0.0.1 and localhost (`server.crt`, `server.key`) and a client certificate
 * (`client.crt`, `client.key`), all signed by the CA and valid for a day. Used by the etcd
 * clusters and the PostgreSQL servers the tests start.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the certificates are, and the client's material as PEM contents. */
export interface TestCertificates {
  caPath: string;
  /** Client certificate and key signed by the CA (paths). */
  certPath: string;
  keyPath: string;
  /** Server certificate and key for 127.0.0.1 (paths). */
  serverCertPath: string;
  serverKeyPath: string;
  /** The CA and the client certificate and key (PEM contents). */
  ca: string;
  cert: string;
  key: string;
}

export function makeCertificates(dir: string): TestCertificates {
  const p = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=tenure-test-ca',
  );
  const sign = (name: string, cn: string, ext: string) => {
    openssl('req', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`);
    writeFileSync(p(`${name}.ext`), ext);
    openssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.crt`),
      '-days',
      '1',
      '-extfile',
      p(`${name}.ext`),
    );
  };
  sign(
    'server',
    '127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  sign('client', 'tenure-client', 'extendedKeyUsage=clientAuth\n');
  return {
    caPath: p('ca.crt'),
    serverCertPath: p('server.crt'),
    serverKeyPath: p('server.key'),
    certPath: p('client.crt'),
    keyPath: p('client.key'),
    ca: readFileSync(p('ca.crt'), 'utf8'),
    cert: readFileSync(p('client.crt'), 'utf8'),
    key: readFileSync(p('client.key'), 'utf8'),
  };
}
