// `tsbuild volume create|ls|inspect|rm|prune`: named volumes in podman's words. The store lives in
// src/volume/; this module only parses flags and prints.
import { createInterface } from 'node:readline/promises';
import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { commandGroup } from '../command-group.js';
import { formatTemplate, table } from '../render.js';
import type { VolumeRecord } from '../../volume/index.js';

interface CreateArgs extends GlobalArgs {
  name?: string;
  label: string[];
  opt: string[];
}
interface LsArgs extends GlobalArgs {
  quiet: boolean;
  format?: string;
  filter: string[];
}
interface InspectArgs extends GlobalArgs {
  names: string[];
  format?: string;
}
interface RmArgs extends GlobalArgs {
  names: string[];
  force: boolean;
}
interface PruneArgs extends GlobalArgs {
  force: boolean;
}

// Repeatable options take one value each (`--label a=b NAME`: NAME is not a label), as podman's do.
const asList = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);

/** podman's `volume inspect` shape. */
function inspectView(v: VolumeRecord): Record<string, unknown> {
  return {
    Name: v.name,
    Driver: v.driver,
    Mountpoint: v.mountpoint,
    CreatedAt: v.created,
    Labels: v.labels,
    Scope: 'local',
    Options: v.options,
    Anonymous: v.anonymous,
  };
}

async function keyValues(items: readonly string[], what: string): Promise<Record<string, string>> {
  const { TsbuildError } = await import('../../errors.js');
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key === '') throw new TsbuildError('INVALID_ARGUMENT', `invalid ${what} "${item}": expected KEY=VALUE`, { exitCode: 125 });
    out[key] = eq < 0 ? '' : item.slice(eq + 1);
  }
  return out;
}

const createCommand: CommandModule<GlobalArgs, CreateArgs> = {
  command: 'create [name]',
  describe: 'Create a volume (a generated name when none is given); prints its name',
  builder: (y) =>
    y
      .positional('name', { type: 'string', describe: 'volume name' })
      .option('label', { alias: 'l', type: 'string', default: [] as string[], coerce: asList, describe: 'set a label (KEY=VALUE)' })
      .option('opt', { alias: 'o', type: 'string', default: [] as string[], coerce: asList, describe: 'driver option; the local driver takes o=uid=N,gid=N (owner of the volume)' })
      .example('$0 volume create pgdata', 'create the volume pgdata')
      .example('$0 volume create --label app=db --opt o=uid=999,gid=999 pgdata', 'with a label, owned by 999:999') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { createVolumeStore } = await import('../../volume/index.js');
    const record = await createVolumeStore(stores).create(args.name, {
      labels: await keyValues(args.label, 'label'),
      options: await keyValues(args.opt, 'option'),
    });
    process.stdout.write(`${record.name}\n`);
  },
};

const lsCommand: CommandModule<GlobalArgs, LsArgs> = {
  command: ['ls', 'list'],
  describe: 'List volumes',
  builder: (y) =>
    y
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print volume names only' })
      .option('format', { type: 'string', describe: '"json", or a Go template such as {{.Name}}' })
      .option('filter', { alias: 'f', type: 'string', default: [] as string[], coerce: asList, describe: 'name=TEXT, dangling=true|false, label=KEY[=VALUE], driver=local' })
      .example('$0 volume ls', 'list volumes')
      .example('$0 volume ls -q --filter dangling=true', 'names of volumes no container uses') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { TsbuildError } = await import('../../errors.js');
    const { createVolumeStore, volumeUsers } = await import('../../volume/index.js');
    let volumes = await createVolumeStore(stores).list();
    const users = args.filter.some((f) => f.startsWith('dangling=')) ? await volumeUsers(stores) : new Map();
    for (const filter of args.filter) {
      const eq = filter.indexOf('=');
      const [key, value] = eq < 0 ? [filter, ''] : [filter.slice(0, eq), filter.slice(eq + 1)];
      if (key === 'name') volumes = volumes.filter((v) => v.name.includes(value));
      else if (key === 'driver') volumes = volumes.filter((v) => v.driver === value);
      else if (key === 'dangling' && (value === 'true' || value === 'false')) volumes = volumes.filter((v) => users.has(v.name) === (value === 'false'));
      else if (key === 'label') {
        const [k, ...rest] = value.split('=');
        volumes = volumes.filter((v) => k! in v.labels && (rest.length === 0 || v.labels[k!] === rest.join('=')));
      } else throw new TsbuildError('INVALID_ARGUMENT', `invalid filter "${filter}" (name=, dangling=true|false, label=, driver=)`, { exitCode: 125 });
    }
    if (args.quiet) {
      process.stdout.write(volumes.map((v) => `${v.name}\n`).join(''));
    } else if (args.format === 'json') {
      process.stdout.write(`${JSON.stringify(volumes.map(inspectView), null, 2)}\n`);
    } else if (args.format !== undefined) {
      process.stdout.write(volumes.map((v) => `${formatTemplate(args.format!, inspectView(v))}\n`).join(''));
    } else {
      process.stdout.write(table([['DRIVER', 'VOLUME NAME'], ...volumes.map((v) => [v.driver, v.name])]));
    }
  },
};

const inspectCommand: CommandModule<GlobalArgs, InspectArgs> = {
  command: 'inspect <names..>',
  describe: 'Show volumes as JSON',
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, demandOption: true })
      .option('format', { alias: 'f', type: 'string', describe: 'a Go template such as {{.Mountpoint}}' })
      .example('$0 volume inspect pgdata', 'show pgdata')
      .example("$0 volume inspect -f '{{.Mountpoint}}' pgdata", 'the host directory holding its data') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { createVolumeStore } = await import('../../volume/index.js');
    const { TsbuildError } = await import('../../errors.js');
    const store = createVolumeStore(stores);
    const found: VolumeRecord[] = [];
    for (const name of args.names) {
      const v = await store.get(name);
      if (!v) throw new TsbuildError('NOT_FOUND', `no such volume ${name}`, { exitCode: 125 });
      found.push(v);
    }
    if (args.format !== undefined) process.stdout.write(found.map((v) => `${formatTemplate(args.format!, inspectView(v))}\n`).join(''));
    else process.stdout.write(`${JSON.stringify(found.map(inspectView), null, 2)}\n`);
  },
};

const rmCommand: CommandModule<GlobalArgs, RmArgs> = {
  command: ['rm <names..>', 'remove'],
  describe: 'Remove volumes (not while a container uses them)',
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, demandOption: true })
      .option('force', {
        alias: 'f',
        type: 'boolean',
        default: false,
        describe: 'remove even if stopped containers use it (they get a new empty volume at their next start); never while one runs',
      })
      .example('$0 volume rm pgdata', 'remove pgdata')
      .example('$0 volume rm -f pgdata', 'remove it although a stopped container refers to it') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { createVolumeStore } = await import('../../volume/index.js');
    const store = createVolumeStore(stores);
    for (const name of args.names) {
      await store.remove(name, { force: args.force });
      process.stdout.write(`${name}\n`);
    }
  },
};

const pruneCommand: CommandModule<GlobalArgs, PruneArgs> = {
  command: 'prune',
  describe: 'Remove every volume no container uses; prints their names',
  builder: (y) =>
    y
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'do not ask for confirmation (it is asked only on a terminal)' })
      .example('$0 volume prune -f', 'remove unused volumes without asking') as never,
  handler: async (args) => {
    if (!args.force && process.stdin.isTTY) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question('WARNING! This will remove all volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ');
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const stores = await storesFor(args);
    const { createVolumeStore } = await import('../../volume/index.js');
    const removed = await createVolumeStore(stores).prune();
    process.stdout.write(removed.map((n) => `${n}\n`).join(''));
  },
};

export const volumeCommand = commandGroup({
  name: 'volume',
  describe: 'Manage volumes (create, ls, inspect, rm, prune)',
  subcommands: [createCommand, lsCommand, inspectCommand, rmCommand, pruneCommand] as never[],
  examples: [
    ['$0 volume create pgdata', 'create a named volume'],
    ['$0 run -v pgdata:/data IMAGE', 'use it in a container (created on first use as well)'],
  ],
});
