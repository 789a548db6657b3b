// A real `git daemon` on a free 127.0.0.1 port, serving the repositories under one directory, for
// the tests of ADD <git://...> and git build contexts.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './registry.js';

export interface GitDaemon {
  /** `git://127.0.0.1:<port>`: append `/<repo>.git`. */
  url: string;
  stop(): void;
}

export async function startGitDaemon(baseDir: string): Promise<GitDaemon> {
  const port = await freePort();
  const daemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${baseDir}`, '--listen=127.0.0.1', `--port=${port}`, baseDir], { stdio: 'ignore' });
  const stop = (): void => {
    daemon.kill();
  };
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return { url: `git://127.0.0.1:${port}`, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  stop();
  throw new Error(`git daemon did not start on 127.0.0.1:${port}`);
}
