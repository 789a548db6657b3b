// src/remote/undici.ts loads undici's Agent and request() from undici's lib/ files, not its index:
// this fails when an undici upgrade moves them, and shows a request through them works.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as undici from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from '../../../src/remote/undici.js';

describe('remote/undici.ts', () => {
  const server = createServer((req, res) => {
    res.setHeader('x-seen', `${req.method} ${req.url}`);
    res.end('hello');
  });
  let base: URL;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('is the Agent undici exports', () => {
    expect(Agent).toBe(undici.Agent);
  });

  it('sends method, path and query through the given dispatcher', async () => {
    const agent = new Agent();
    try {
      const res = await request(new URL('/v2/x/blobs/uploads/?digest=sha256%3Aab', base), { method: 'HEAD', headers: { accept: '*/*' }, dispatcher: agent });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-seen']).toBe('HEAD /v2/x/blobs/uploads/?digest=sha256%3Aab');
      await res.body.dump();
      const get = await request(new URL('/v2/', base), { method: 'GET', headers: {}, dispatcher: agent });
      expect(await get.body.text()).toBe('hello');
      expect(get.headers['x-seen']).toBe('GET /v2/');
    } finally {
      await agent.close();
    }
  });
});
