// Certificates for the test registries, made with openssl at test time in a temp dir (no key or
// certificate is ever committed): a CA plus a server certificate for IP:127.0.0.1 for TLS
// registries, and a self-signed signing certificate for the token server's JWTs.
import { execFile } from 'node:child_process';
import { X509Certificate, randomInt } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Runs openssl with a fixed environment; its stderr is kept for the error because key generation failures are otherwise silent. */
export function openssl(args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', [...args], { cwd, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`openssl ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve();
    });
  });
}

export interface ServerTls {
  /** The CA certificate clients trust (PEM). */
  caFile: string;
  /** The registry's certificate (PEM), signed by the CA, valid for IP 127.0.0.1. */
  certFile: string;
  keyFile: string;
}

/**
 * A CA and a server certificate signed by it. A separate CA (rather than one self-signed server
 * certificate) is what real registries look like, so clients are tested on chain verification.
 */
export async function makeServerTls(dir: string): Promise<ServerTls> {
  const caFile = path.join(dir, 'ca.crt');
  const caKey = path.join(dir, 'ca.key');
  const certFile = path.join(dir, 'server.crt');
  const keyFile = path.join(dir, 'server.key');
  const csr = path.join(dir, 'server.csr');
  const ext = path.join(dir, 'server.ext');
  // The CA and the server key pair do not depend on each other: generate them side by side.
  await Promise.all([
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '2',
      '-subj', '/CN=tsbuild test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir),
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', '/CN=127.0.0.1'], dir),
    // Go (the registry) and Node ignore the CN: only the IP subjectAltName makes 127.0.0.1 valid.
    writeFile(ext, ['subjectAltName=IP:127.0.0.1', 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', ''].join('\n')),
  ]);
  await openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-set_serial', `0x${randomSerial()}`,
    '-out', certFile, '-days', '2', '-extfile', ext], dir);
  return { caFile, certFile, keyFile };
}

export interface TokenSigner {
  /** The self-signed signing certificate (PEM): the registry's `rootcertbundle`. */
  certFile: string;
  /** The private key (PEM) the token server signs RS256 JWTs with. */
  keyPem: string;
  /** The certificate as base64 DER, for the JWT header's `x5c`. */
  certDerBase64: string;
}

/**
 * The token signing identity. docker/distribution verifies a token's `x5c` chain against its
 * rootcertbundle; with the self-signed leaf itself in the bundle, the chain is one certificate.
 */
export async function makeTokenSigner(dir: string): Promise<TokenSigner> {
  const certFile = path.join(dir, 'token-signer.crt');
  const keyFile = path.join(dir, 'token-signer.key');
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=tsbuild test token signer'], dir);
  const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { certFile, keyPem, certDerBase64: new X509Certificate(certPem).raw.toString('base64') };
}

function randomSerial(): string {
  // Positive and below 2^47, so the DER integer is never read as negative (Go rejects those).
  return randomInt(1, 2 ** 47).toString(16);
}
