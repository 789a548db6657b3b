// STUB (skeleton for issue 5): the monitor helper replaces this file (and adds the C monitor).
import type { RestartPolicy } from './types.js';

export interface MonitorSpec {
  /** runc container ID (the container ID). */
  id: string;
  bundle: string;
  runcRoot: string;
  runcBinary?: string;
  logFile: string;
  /** Rotate the log (to <log>.1) beyond this size. */
  logMaxBytes: number;
  stateFile: string;
  exitFile: string;
  stopFlagFile: string;
  /** 'null': /dev/null; 'hold': a pipe held open (-d -i); 'inherit': our stdin (foreground -i). */
  stdin: 'null' | 'hold' | 'inherit';
  terminal: boolean;
  /** Foreground: copy the container's output to our stdout/stderr too (not only the log). */
  attach: boolean;
  restart: RestartPolicy;
  /** Run (exec) when the container is done for good, e.g. [node, bin/tsbuild, --root, R, container, cleanup, ID]. Attached monitors run it only if their parent died. */
  exitCommand: string[];
}

export interface StartedMonitor {
  monitorPid: number;
  containerPid: number;
  /** Attached (foreground) only: resolves with the final exit code when the monitor exits. */
  wait?: () => Promise<number>;
}

export interface ExitInfo {
  exitCode: number;
  finishedAt: string;
  oomKilled?: boolean;
}

export interface MonitorState {
  monitorPid: number;
  containerPid: number;
  startedAt: string;
  restartCount: number;
}

/** Starts the monitor; resolves once the container's process runs, or throws (RUNTIME, exit 125) with runc's message. */
export async function startMonitor(_spec: MonitorSpec, _options: { detached: boolean }): Promise<StartedMonitor> {
  throw new Error('monitor not merged yet');
}
