// Which CAs a registry connection trusts: certs.d files, and the NODE_EXTRA_CA_CERTS bundle that
// bin/tsbuild hands over as TSBUILD_EXTRA_CA_CERTS (node itself never loaded it).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadTlsMaterial } from '../../../src/remote/tls.js';

// Any PEM text will do: loading does not parse certificates (node does when connecting).
const EXTRA = '-----BEGIN CERTIFICATE-----\nZXh0cmE=\n-----END CERTIFICATE-----\n';
const HOSTED = '-----BEGIN CERTIFICATE-----\naG9zdGVk\n-----END CERTIFICATE-----\n';

let dir: string;
let certsD: string;
let bundle: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-tls-'));
  certsD = path.join(dir, 'certs.d');
  bundle = path.join(dir, 'extra.pem');
  await mkdir(path.join(certsD, 'reg:5000'), { recursive: true });
  await writeFile(bundle, EXTRA);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadTlsMaterial', () => {
  it('uses node defaults when there is nothing extra', async () => {
    const m = await loadTlsMaterial([certsD], ['reg:5000'], {});
    expect(m.ca).toBeUndefined();
    expect(m.files).toEqual([]);
  });

  it('adds the bundle bin/tsbuild moved to TSBUILD_EXTRA_CA_CERTS to the default roots', async () => {
    const m = await loadTlsMaterial([certsD], ['reg:5000'], { TSBUILD_EXTRA_CA_CERTS: bundle });
    expect(m.ca).toEqual([...rootCertificates, EXTRA]);
    expect(m.files).toEqual([bundle]);
  });

  it('leaves NODE_EXTRA_CA_CERTS to node when no explicit CA list is needed', async () => {
    const m = await loadTlsMaterial([certsD], ['reg:5000'], { NODE_EXTRA_CA_CERTS: bundle });
    expect(m.ca).toBeUndefined();
  });

  it('keeps NODE_EXTRA_CA_CERTS in an explicit CA list made for certs.d CAs (the list replaces node store)', async () => {
    await writeFile(path.join(certsD, 'reg:5000', 'ca.crt'), HOSTED);
    const m = await loadTlsMaterial([certsD], ['reg:5000'], { NODE_EXTRA_CA_CERTS: bundle });
    expect(m.ca).toEqual([...rootCertificates, HOSTED, EXTRA]);
  });

  it('reads no CA at all when certificates are not verified, but still the client certificate', async () => {
    const hostDir = path.join(certsD, 'reg:5000');
    await Promise.all([
      writeFile(path.join(hostDir, 'ca.crt'), HOSTED),
      writeFile(path.join(hostDir, 'client.cert'), 'CERT'),
      writeFile(path.join(hostDir, 'client.key'), 'KEY'),
    ]);
    const m = await loadTlsMaterial([certsD], ['reg:5000'], { TSBUILD_EXTRA_CA_CERTS: bundle }, false);
    // An empty list, not undefined: node's default would load its whole root store.
    expect(m.ca).toEqual([]);
    expect(m.cert).toBe('CERT');
    expect(m.key).toBe('KEY');
    expect(m.files).toEqual([path.join(hostDir, 'client.cert'), path.join(hostDir, 'client.key')]);
  });

  it('skips an unreadable bundle, as node does', async () => {
    const m = await loadTlsMaterial([certsD], ['reg:5000'], { TSBUILD_EXTRA_CA_CERTS: path.join(dir, 'missing.pem') });
    expect(m.ca).toBeUndefined();
  });
});
