// Instructions that only change the image config (no layer, no container): ENV, LABEL, EXPOSE,
// VOLUME, USER, CMD, ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER.
import type { Instruction } from '../../containerfile/index.js';
import { TsbuildError } from '../../errors.js';
import type { ImageConfig } from '../../oci/types.js';
import { DEFAULT_SHELL, setEnv } from '../stage-state.js';

export interface Expander {
  word(raw: string): string;
  words(raw: string): string[];
}

export type MetadataInstruction = Extract<
  Instruction,
  { kind: 'ENV' | 'LABEL' | 'EXPOSE' | 'VOLUME' | 'USER' | 'CMD' | 'ENTRYPOINT' | 'SHELL' | 'STOPSIGNAL' | 'HEALTHCHECK' | 'ONBUILD' | 'MAINTAINER' }
>;

const METADATA_KINDS = new Set(['ENV', 'LABEL', 'EXPOSE', 'VOLUME', 'USER', 'CMD', 'ENTRYPOINT', 'SHELL', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER']);

export function isMetadataInstruction(instruction: Instruction): instruction is MetadataInstruction {
  return METADATA_KINDS.has(instruction.kind);
}

/** What a stage has set itself, as opposed to inheriting from its base. */
export interface StageFlags {
  cmdSet: boolean;
}

/** Applies a metadata instruction to `config` in place. */
export function applyMetadata(config: ImageConfig, instruction: MetadataInstruction, expand: Expander, where: string, flags: StageFlags): void {
  const c = config.config;
  switch (instruction.kind) {
    case 'ENV': {
      // All pairs of one ENV see the environment from before it (Dockerfile reference).
      const values = instruction.pairs.map((p) => [expand.word(p.key), expand.word(p.value)] as const);
      for (const [key, value] of values) setEnv(config, key, value);
      return;
    }
    case 'LABEL':
      c.Labels = { ...c.Labels };
      for (const p of instruction.pairs) c.Labels[expand.word(p.key)] = expand.word(p.value);
      return;
    case 'EXPOSE':
      c.ExposedPorts = { ...c.ExposedPorts };
      for (const raw of instruction.ports) {
        for (const port of expand.words(raw)) c.ExposedPorts[normalizePort(port, where)] = {};
      }
      return;
    case 'VOLUME':
      c.Volumes = { ...c.Volumes };
      for (const raw of instruction.paths) {
        for (const volume of expand.words(raw)) {
          if (volume === '') throw new TsbuildError('PARSE', `${where}: VOLUME specified can not be an empty string`);
          c.Volumes[volume] = {};
        }
      }
      return;
    case 'USER':
      c.User = expand.word(instruction.user);
      return;
    case 'CMD':
      c.Cmd = instruction.command.form === 'exec' ? instruction.command.args : [...(c.Shell ?? DEFAULT_SHELL), instruction.command.command];
      flags.cmdSet = true;
      return;
    case 'ENTRYPOINT':
      c.Entrypoint =
        instruction.command.form === 'exec' ? instruction.command.args : [...(c.Shell ?? DEFAULT_SHELL), instruction.command.command];
      // A CMD inherited from the base image makes no sense with a new ENTRYPOINT (Docker resets it).
      if (!flags.cmdSet) c.Cmd = null;
      return;
    case 'SHELL':
      c.Shell = instruction.shell;
      return;
    case 'STOPSIGNAL':
      c.StopSignal = expand.word(instruction.signal);
      return;
    case 'HEALTHCHECK':
      if (instruction.test === 'NONE') {
        c.Healthcheck = { Test: ['NONE'] };
        return;
      }
      c.Healthcheck = {
        Test: instruction.test.form === 'exec' ? ['CMD', ...instruction.test.args] : ['CMD-SHELL', instruction.test.command],
        ...durationField('Interval', instruction.interval, where),
        ...durationField('Timeout', instruction.timeout, where),
        ...durationField('StartPeriod', instruction.startPeriod, where),
        ...durationField('StartInterval', instruction.startInterval, where),
        ...(instruction.retries !== undefined ? { Retries: parseRetries(instruction.retries, where) } : {}),
      };
      return;
    case 'ONBUILD':
      c.OnBuild = [...(c.OnBuild ?? []), instruction.triggerText];
      return;
    case 'MAINTAINER':
      config.author = instruction.name;
      return;
  }
}

function normalizePort(port: string, where: string): string {
  const match = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(port);
  if (!match) throw new TsbuildError('PARSE', `${where}: invalid EXPOSE port "${port}"`);
  return `${match[1]}${match[2] ? `-${match[2]}` : ''}/${(match[3] ?? 'tcp').toLowerCase()}`;
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go duration syntax ("30s", "1m30s", "500ms") to nanoseconds, as the Docker config stores it. */
export function parseDuration(value: string, where: string, flag: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (value === '' || consumed !== value.length) {
    throw new TsbuildError('PARSE', `${where}: invalid duration "${value}" for --${flag}`);
  }
  return Math.round(total);
}

function durationField(name: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval', value: string | undefined, where: string): Record<string, number> {
  if (value === undefined) return {};
  const flag = name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
  return { [name]: parseDuration(value, where, flag) };
}

function parseRetries(value: string, where: string): number {
  if (!/^\d+$/.test(value)) throw new TsbuildError('PARSE', `${where}: invalid --retries "${value}"`);
  return Number(value);
}
