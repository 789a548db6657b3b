// A fault-injecting HTTP proxy for registry tests. It listens in plain HTTP on 127.0.0.1 and
// forwards every request to one test registry (http, or https with the registry's CA), streaming
// bodies both ways and passing every end-to-end header (Authorization, WWW-Authenticate, Range, ...)
// unchanged. Rules answer chosen requests with a status, cut a response off, flip a byte, or delay
// it; the request log and upload byte counter let tests see what a client really sent.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestRegistry } from './registry.js';

export interface ProxyRule {
  /** Which requests: method and a RegExp on the path, e.g. { method: 'GET', path: /\/blobs\/sha256:/ } */
  method?: string;
  /** Tested against the request path without its query string. */
  path: RegExp;
  /** What to do, for the first `times` matching requests (default 1): */
  action:
    | { kind: 'status'; status: number; headers?: Record<string, string> } // e.g. 500, 429 with Retry-After: 0
    | { kind: 'drop-after'; bytes: number } // forward, but destroy the client connection after N body bytes of the response
    | { kind: 'corrupt-byte'; offset: number } // forward the response with one byte flipped at offset
    | { kind: 'delay'; ms: number };
  times?: number;
}

export interface ProxyRequest {
  method: string;
  /** The request path without the query string (what rules match). */
  path: string;
  /** The request target as sent, with the query string. */
  url: string;
  /** The status the client got: injected, or the registry's (502 when the registry could not be reached). */
  status: number;
  rangeHeader?: string;
  /** @deprecated the same as rangeHeader (an earlier stand-in's name). */
  range?: string;
  /** The kind of rule applied to this request, if any. */
  fault?: ProxyRule['action']['kind'];
}

export interface RegistryProxy {
  host: string;
  url: string;
  setRules(rules: ProxyRule[]): void;
  /** Counters since start or reset(): requests by "METHOD path-pattern-kind" and request body bytes received on blob uploads (POST/PATCH/PUT to /blobs/uploads/). */
  stats(): { requests: ProxyRequest[]; uploadedBytes: number };
  reset(): void;
  stop(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are not forwarded; Node frames
// each side's body itself. Expect is dropped because Node's server already answered 100-continue.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

/** Headers from rawHeaders, keeping repeated ones (several WWW-Authenticate challenges) as arrays. */
function copyHeaders(raw: string[], map: (name: string, value: string) => string | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name)) continue;
    const value = map(name, raw[i + 1]!);
    if (value === undefined) continue;
    const existing = out[name];
    out[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}

const isUpload = (method: string, pathname: string): boolean => (method === 'POST' || method === 'PATCH' || method === 'PUT') && pathname.includes('/blobs/uploads/');

/**
 * A plain-HTTP proxy on 127.0.0.1 in front of a registry (which may itself be http or https+auth;
 * forwards all headers incl. Authorization and WWW-Authenticate, rewriting Location headers so
 * uploads keep going through the proxy). A bare URL is accepted too; an https URL without a
 * TestRegistry's CA is then forwarded to without certificate verification.
 */
export async function startRegistryProxy(target: TestRegistry | string): Promise<RegistryProxy> {
  const upstream = new URL(typeof target === 'string' ? target : target.url);
  const upstreamOrigin = upstream.origin;
  const secure = upstream.protocol === 'https:';
  const caFile = typeof target === 'string' ? undefined : target.caFile;
  const ca = caFile ? await readFile(caFile, 'utf8') : undefined;
  // A private keep-alive agent, destroyed by stop(), so no socket outlives the proxy.
  const agent = secure ? new https.Agent({ keepAlive: true, ...(ca ? { ca } : { rejectUnauthorized: false }) }) : new http.Agent({ keepAlive: true });

  let rules: Array<{ rule: ProxyRule; remaining: number }> = [];
  let requests: ProxyRequest[] = [];
  let uploadedBytes = 0;
  let origin = '';

  const takeRule = (method: string, pathname: string): ProxyRule | undefined => {
    for (const r of rules) {
      if (r.remaining <= 0) continue;
      if (r.rule.method !== undefined && r.rule.method.toUpperCase() !== method) continue;
      // A /g or /y RegExp keeps lastIndex between calls; reset it so every request is tested alike.
      r.rule.path.lastIndex = 0;
      if (!r.rule.path.test(pathname)) continue;
      r.remaining--;
      return r.rule;
    }
    return undefined;
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const pathname = url.split('?', 1)[0] ?? url;
    const range = req.headers.range;
    const entry: ProxyRequest = { method, path: pathname, url, status: 0, ...(range !== undefined ? { rangeHeader: range, range } : {}) };
    requests.push(entry);
    const rule = takeRule(method, pathname);
    if (rule) entry.fault = rule.action.kind;
    const countUpload = isUpload(method, pathname);
    // Counted where the body is read (never before it is piped on), so a delayed request loses nothing.
    const count = (chunk: Buffer): void => {
      if (countUpload) uploadedBytes += chunk.length;
    };

    const action = rule?.action;
    if (action?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, action.ms));

    if (action?.kind === 'status') {
      // Read the whole request body first: answering early makes clients see EPIPE instead of the status.
      req.on('data', count);
      req.once('end', () => {
        const headers: Record<string, string> = { ...action.headers };
        const hasType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
        // Errors get a registry-style JSON body so clients can print something; other statuses stay empty.
        const body = action.status >= 400 && !hasType ? JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `injected ${action.status} by the test proxy` }] }) : '';
        if (body) headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(body));
        entry.status = action.status;
        res.writeHead(action.status, headers);
        res.end(body);
      });
      req.resume();
      return;
    }

    const headers = copyHeaders(req.rawHeaders, (name, value) => (name === 'host' ? upstream.host : value));
    const forward = (secure ? https : http).request({
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port,
      method,
      path: url,
      headers,
      agent,
    });
    res.once('close', () => {
      // The client went away (or we cut it off): stop talking to the registry for it too.
      if (!res.writableFinished) forward.destroy();
    });
    forward.once('error', (error) => {
      if (!res.headersSent) {
        entry.status = 502;
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`test proxy: ${error.message}`);
      } else {
        res.destroy();
      }
    });
    forward.once('response', (upstreamRes) => {
      const status = upstreamRes.statusCode ?? 502;
      entry.status = status;
      res.writeHead(
        status,
        copyHeaders(upstreamRes.rawHeaders, (name, value) =>
          // Upload URLs are absolute and name the registry; pointing them at the proxy keeps every
          // PATCH/PUT of an upload going through it (and counted).
          name === 'location' && value.startsWith(upstreamOrigin) ? origin + value.slice(upstreamOrigin.length) : value,
        ),
      );
      let sent = 0;
      upstreamRes.on('data', (chunk: Buffer) => {
        let out = chunk;
        if (action?.kind === 'corrupt-byte' && action.offset >= sent && action.offset < sent + chunk.length) {
          out = Buffer.from(chunk);
          out[action.offset - sent]! ^= 0xff;
        }
        if (action?.kind === 'drop-after' && sent + out.length >= action.bytes) {
          const part = out.subarray(0, action.bytes - sent);
          sent += part.length;
          upstreamRes.destroy();
          if (part.length > 0) res.write(part);
          // end() flushes the headers and the part before the FIN, so the client gets exactly N bytes
          // of a body it was promised more of; destroy() would drop what is still buffered.
          const socket = res.socket;
          socket?.end();
          setTimeout(() => socket?.destroy(), 1_000).unref();
          return;
        }
        sent += out.length;
        if (!res.write(out)) {
          upstreamRes.pause();
          res.once('drain', () => upstreamRes.resume());
        }
      });
      upstreamRes.once('end', () => res.end());
      upstreamRes.once('error', () => res.destroy());
    });
    req.on('data', count);
    req.pipe(forward);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`test proxy: ${String(error)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  origin = `http://${host}`;
  let stopped: Promise<void> | undefined;

  return {
    host,
    url: origin,
    setRules(next) {
      rules = next.map((rule) => ({ rule, remaining: rule.times ?? 1 }));
    },
    stats: () => ({ requests: [...requests], uploadedBytes }),
    reset() {
      requests = [];
      uploadedBytes = 0;
    },
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      })),
  };
}
