// Instructions that only change the image config (no layer, no container): ENV, LABEL, EXPOSE,
// VOLUME, USER, CMD, ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER.
import { parseDuration, type Instruction } from '../../containerfile/index.js';
import { TsbuildError } from '../../errors.js';
import type { ImageConfig } from '../../oci/types.js';
import { DEFAULT_SHELL, setEnv } from '../stage-state.js';
import { exposedPorts, isValidSignal } from './config-values.js';

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
        for (const spec of expand.words(raw)) {
          for (const port of checked(() => exposedPorts(spec), `${where}: EXPOSE ${spec}`)) c.ExposedPorts[port] = {};
        }
      }
      return;
    case 'VOLUME':
      c.Volumes = { ...c.Volumes };
      // One path per word, spaces and all, as BuildKit expands VOLUME (also in the JSON form).
      for (const raw of instruction.paths) {
        const volume = expand.word(raw);
        if (volume === '') throw new TsbuildError('INVALID_ARGUMENT', `${where}: VOLUME specified can not be an empty string`);
        c.Volumes[volume] = {};
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
    case 'STOPSIGNAL': {
      const signal = expand.word(instruction.signal);
      if (!isValidSignal(signal)) throw new TsbuildError('INVALID_ARGUMENT', `${where}: STOPSIGNAL: invalid signal: ${signal}`);
      c.StopSignal = signal;
      return;
    }
    case 'HEALTHCHECK':
      if (instruction.test === 'NONE') {
        c.Healthcheck = { Test: ['NONE'] };
        return;
      }
      c.Healthcheck = {
        Test: instruction.test.form === 'exec' ? ['CMD', ...instruction.test.args] : ['CMD-SHELL', instruction.test.command],
        ...durationField('Interval', instruction.interval),
        ...durationField('Timeout', instruction.timeout),
        ...durationField('StartPeriod', instruction.startPeriod),
        ...durationField('StartInterval', instruction.startInterval),
        // 0 means "the default", which Docker leaves out of the config (omitempty).
        ...(instruction.retries !== undefined && Number(instruction.retries) !== 0 ? { Retries: Number(instruction.retries) } : {}),
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

/** Runs a value check that throws a plain Error, as a TsbuildError naming where. */
function checked<T>(fn: () => T, where: string): T {
  try {
    return fn();
  } catch (err) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: ${(err as Error).message}`);
  }
}

/** A duration the parser has checked, in nanoseconds; 0 ("the default") is left out, as Docker does. */
function durationField(name: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval', value: string | undefined): Record<string, number> {
  const ns = value === undefined ? undefined : parseDuration(value);
  return ns === undefined || ns === 0 ? {} : { [name]: ns };
}
