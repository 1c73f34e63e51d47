import { execFile } from 'node:child_process';
import { generateKeyPair, randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

// The lab's certificates, made at every start and never committed: a CA of the lab's own (as RDS has
// its CA bundle) and server certificates it signs. Keys come from node:crypto (EC P-256); the
// certificates from the machine's `openssl` command line (Debian's openssl package, which these
// machines have), run without a shell and with a configuration file of our own, so neither the
// system's openssl.cnf nor an npm dependency decides what the certificates say.

export interface CertificateFiles {
  certPath: string;
  keyPath: string;
}

export class OpensslMissingError extends Error {
  constructor() {
    super('the lab makes its TLS certificates with the openssl command line tool, which is not on PATH (Debian: apt-get install openssl)');
    this.name = 'OpensslMissingError';
  }
}

const VALID_DAYS = 30;

/** A new CA: `<dir>/<name>.pem` and `<dir>/<name>-key.pem` (mode 0600). */
export async function createCertificateAuthority(dir: string, name: string, commonName: string): Promise<CertificateFiles> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const files = { certPath: join(dir, `${name}.pem`), keyPath: join(dir, `${name}-key.pem`) };
  await writePrivateKey(files.keyPath);
  await withConfig(dir, commonName, [], async (config) => {
    await openssl(['req', '-x509', '-new', '-config', config, '-extensions', 'ca_ext', '-key', files.keyPath, '-sha256', '-days', String(VALID_DAYS), '-out', files.certPath]);
  });
  return files;
}

/**
 * A server certificate signed by `ca`, whose subject alternative names are `names` (IP addresses
 * become IP SANs, the rest DNS SANs): `<dir>/<name>.pem` and `<dir>/<name>-key.pem` (mode 0600).
 */
export async function issueServerCertificate(ca: CertificateFiles, dir: string, name: string, names: string[]): Promise<CertificateFiles> {
  if (names.length === 0) throw new Error('a server certificate needs at least one name');
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const files = { certPath: join(dir, `${name}.pem`), keyPath: join(dir, `${name}-key.pem`) };
  const csr = join(dir, `${name}.csr`);
  await writePrivateKey(files.keyPath);
  const commonName = names.find((n) => !isIP(n)) ?? names[0]!;
  const altNames = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`));
  try {
    await withConfig(dir, commonName, altNames, async (config) => {
      await openssl(['req', '-new', '-config', config, '-key', files.keyPath, '-out', csr]);
      await openssl([
        'x509', '-req', '-in', csr, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial', `0x${randomBytes(12).toString('hex')}`,
        '-days', String(VALID_DAYS), '-sha256', '-extfile', config, '-extensions', 'server_ext', '-out', files.certPath,
      ]);
    });
  } finally {
    await rm(csr, { force: true });
  }
  return files;
}

async function writePrivateKey(path: string): Promise<void> {
  const pem = await new Promise<string>((resolve, reject) =>
    generateKeyPair('ec', { namedCurve: 'prime256v1', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }, (err, _pub, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
  await writeFile(path, pem, { mode: 0o600 });
  await chmod(path, 0o600);
}

async function withConfig<T>(dir: string, commonName: string, altNames: string[], work: (config: string) => Promise<T>): Promise<T> {
  const path = join(dir, `openssl-${randomBytes(4).toString('hex')}.cnf`);
  const text = [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    `CN = ${commonName.replace(/[^A-Za-z0-9 .:_-]/g, '')}`,
    '[ca_ext]',
    'basicConstraints = critical,CA:TRUE',
    'keyUsage = critical,keyCertSign,cRLSign',
    'subjectKeyIdentifier = hash',
    '[server_ext]',
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature',
    'extendedKeyUsage = serverAuth',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    ...(altNames.length ? [`subjectAltName = ${altNames.join(',')}`] : []),
    '',
  ].join('\n');
  await writeFile(path, text);
  try {
    return await work(path);
  } finally {
    await rm(path, { force: true });
  }
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 20_000, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new OpensslMissingError());
      reject(new Error(`openssl ${args[0]} failed: ${stderr.trim().split('\n').slice(-2).join(' ') || err.message}`));
    });
  });
}
