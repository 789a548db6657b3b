// undici's Agent and request(), loaded from the two files of undici that hold them. undici's index
// loads all of undici (fetch, WebSocket, EventSource, mocks, caches, proxy agents) and the
// built-ins behind them, which cost ~130 ms of every push and pull on the 2-core test machine
// against ~45 ms for these two (require() of each, timed in one node process). The paths are
// undici's own lib/ (its package.json has no "exports" that would hide them);
// test/unit/remote/undici.test.ts checks that they still are what the index exports.
import type { Agent as AgentClass, Dispatcher } from 'undici';
import AgentModule from 'undici/lib/dispatcher/agent.js';
import requestModule from 'undici/lib/api/api-request.js';

export const Agent: typeof AgentClass = AgentModule;
export type Agent = AgentClass;

export interface RequestOptions {
  method: Dispatcher.HttpMethod;
  headers: Record<string, string>;
  body?: Dispatcher.DispatchOptions['body'];
  dispatcher: Dispatcher;
  signal?: AbortSignal;
}

/** undici's request(url, options) with the dispatcher given (no global dispatcher here). */
export function request(url: URL, options: RequestOptions): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = options;
  return requestModule.call(dispatcher, { ...rest, origin: url.origin, path: `${url.pathname}${url.search}` });
}
