// `tsbuild network ...`: create, ls, inspect, rm, prune, connect, disconnect (podman's names and flags).
import { createInterface } from 'node:readline/promises';
import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import type { NetworkManager, NetworkRecord } from '../../network/index.js';
import type { Stores } from '../../store/root.js';
import { storesFor, type GlobalArgs } from '../global.js';
import { commandGroup } from '../command-group.js';
import { formatTemplate, table } from '../render.js';

/**
 * Opens the root and the manager. Containers are settled first (unless `settle` is false): a
 * container whose monitor died must not count as running on a network (hosts files, connect, rm).
 */
async function open(args: GlobalArgs, settle = true): Promise<{ stores: Stores; manager: NetworkManager }> {
  const stores = await storesFor(args);
  if (settle) await (await import('../../container/records.js')).listContainers(stores);
  const { createNetworkManager } = await import('../../network/index.js');
  return { stores, manager: createNetworkManager(stores) };
}

function parseLabels(labels: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const label of labels) {
    const eq = label.indexOf('=');
    const key = eq < 0 ? label : label.slice(0, eq);
    if (key === '') throw new TsbuildError('INVALID_ARGUMENT', `invalid label "${label}": expected KEY=VALUE`);
    out[key] = eq < 0 ? '' : label.slice(eq + 1);
  }
  return out;
}

/** What inspect and `ls --format json` show: the record and the containers using the network. */
async function view(manager: NetworkManager, network: NetworkRecord): Promise<Record<string, unknown>> {
  return { ...network, containers: await manager.users(network.name) };
}

interface CreateArgs extends GlobalArgs { name: string; subnet?: string; gateway?: string; internal: boolean; label: string[] }
const create: CommandModule<GlobalArgs, CreateArgs> = {
  command: 'create <name>',
  describe: 'Create a bridge network',
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true, describe: 'network name' })
      .option('subnet', { type: 'string', describe: 'IPv4 subnet in CIDR form (default: the first free 10.89.N.0/24)' })
      .option('gateway', { type: 'string', describe: 'gateway address in the subnet (default: its first address)' })
      .option('internal', { type: 'boolean', default: false, describe: 'no outbound NAT and no default route: containers reach only the network' })
      .option('label', { type: 'string', array: true, nargs: 1, default: [], describe: 'set a label KEY=VALUE' })
      .example('$0 network create appnet', 'a network on the next free 10.89.N.0/24')
      .example('$0 network create --subnet 10.90.0.0/24 --gateway 10.90.0.254 lab', 'with a chosen subnet and gateway')
      .example('$0 network create --internal backend', 'containers on it cannot reach the outside') as never,
  handler: async (args) => {
    const { manager } = await open(args, false);
    const network = await manager.create(args.name, { subnet: args.subnet, gateway: args.gateway, internal: args.internal, labels: parseLabels(args.label) });
    process.stdout.write(`${network.name}\n`);
  },
};

interface LsArgs extends GlobalArgs { quiet: boolean; format?: string }
const ls: CommandModule<GlobalArgs, LsArgs> = {
  command: 'ls',
  aliases: ['list'],
  describe: 'List networks',
  builder: (y) =>
    y
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print network names only' })
      .option('format', { type: 'string', describe: '"json", or a Go-template-like format such as "{{.Name}} {{.Subnet}}"' })
      .example('$0 network ls', 'list networks')
      .example('$0 network ls --format json', 'as JSON')
      .example('$0 network ls --format "{{.name}} {{.subnet}}"', 'chosen fields') as never,
  handler: async (args) => {
    const { manager } = await open(args, args.format === 'json');
    const networks = await manager.list();
    if (args.quiet) return void process.stdout.write(networks.map((n) => `${n.name}\n`).join(''));
    if (args.format === 'json') {
      const out = await Promise.all(networks.map((n) => view(manager, n)));
      return void process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    }
    if (args.format !== undefined) {
      return void process.stdout.write(networks.map((n) => `${formatTemplate(args.format!, n)}\n`).join(''));
    }
    const rows = [['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'BRIDGE']];
    for (const n of networks) rows.push([n.id.slice(0, 12), n.name, n.driver, n.subnet, n.bridge]);
    process.stdout.write(table(rows));
  },
};

interface InspectArgs extends GlobalArgs { networks: string[]; format?: string }
const inspect: CommandModule<GlobalArgs, InspectArgs> = {
  command: 'inspect <networks..>',
  describe: 'Show networks as JSON',
  builder: (y) =>
    y
      .positional('networks', { type: 'string', array: true, demandOption: true, describe: 'network names or IDs' })
      .option('format', { alias: 'f', type: 'string', describe: 'Go-template-like format, e.g. "{{.subnet}}"' })
      .example('$0 network inspect appnet', 'its record and the containers using it')
      .example('$0 network inspect -f "{{.subnet}}" appnet', 'one field') as never,
  handler: async (args) => {
    const { manager } = await open(args);
    const out = [];
    for (const ref of args.networks) out.push(await view(manager, await manager.get(ref)));
    if (args.format !== undefined) return void process.stdout.write(out.map((o) => `${formatTemplate(args.format!, o)}\n`).join(''));
    process.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
  },
};

interface RmArgs extends GlobalArgs { networks: string[]; force: boolean }
const rm: CommandModule<GlobalArgs, RmArgs> = {
  command: 'rm <networks..>',
  aliases: ['remove'],
  describe: 'Remove networks',
  builder: (y) =>
    y
      .positional('networks', { type: 'string', array: true, demandOption: true, describe: 'network names or IDs' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'remove it even if containers use it (they lose it)' })
      .example('$0 network rm appnet', 'remove a network no container uses')
      .example('$0 network rm -f appnet', 'remove it even while in use') as never,
  handler: async (args) => {
    const { manager } = await open(args);
    for (const ref of args.networks) {
      const network = await manager.get(ref);
      await manager.remove(network.name, { force: args.force });
      process.stdout.write(`${network.name}\n`);
    }
  },
};

interface PruneArgs extends GlobalArgs { force: boolean }
const prune: CommandModule<GlobalArgs, PruneArgs> = {
  command: 'prune',
  describe: 'Remove every network no container uses (never the default network)',
  builder: (y) =>
    y
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'do not ask for confirmation' })
      .example('$0 network prune -f', 'remove unused networks without asking') as never,
  handler: async (args) => {
    if (!args.force) {
      if (!process.stdin.isTTY) throw new TsbuildError('INVALID_ARGUMENT', 'network prune asks for confirmation: use -f when not on a terminal');
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question('WARNING! This will remove all networks not used by at least one container.\nAre you sure you want to continue? [y/N] ');
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const { manager } = await open(args);
    process.stdout.write((await manager.prune()).map((n) => `${n}\n`).join(''));
  },
};

interface ConnectArgs extends GlobalArgs { network: string; container: string; alias: string[] }
const connect: CommandModule<GlobalArgs, ConnectArgs> = {
  command: 'connect <network> <container>',
  describe: 'Connect a container to a network (a running one at once, as its next ethN)',
  builder: (y) =>
    y
      .positional('network', { type: 'string', demandOption: true })
      .positional('container', { type: 'string', demandOption: true })
      .option('alias', { type: 'string', array: true, nargs: 1, default: [], describe: 'another name the container has on this network' })
      .example('$0 network connect appnet web', 'web joins appnet')
      .example('$0 network connect --alias db appnet pg', 'and is also reachable as db there') as never,
  handler: async (args) => {
    const { stores, manager } = await open(args);
    const { connectContainer } = await import('../../network/attach.js');
    await connectContainer(stores, manager, args.network, args.container, args.alias);
  },
};

interface DisconnectArgs extends GlobalArgs { network: string; container: string }
const disconnect: CommandModule<GlobalArgs, DisconnectArgs> = {
  command: 'disconnect <network> <container>',
  describe: 'Disconnect a container from a network',
  builder: (y) =>
    y
      .positional('network', { type: 'string', demandOption: true })
      .positional('container', { type: 'string', demandOption: true })
      .example('$0 network disconnect appnet web', 'web leaves appnet') as never,
  handler: async (args) => {
    const { stores, manager } = await open(args);
    const { disconnectContainer } = await import('../../network/attach.js');
    await disconnectContainer(stores, manager, args.network, args.container);
  },
};

export const networkCommand = commandGroup({
  name: 'network',
  describe: 'Manage container networks (bridge networks through the CNI plugins)',
  subcommands: [create, ls, inspect, rm, prune, connect, disconnect] as never[],
  examples: [
    ['$0 network create appnet', 'create a network'],
    ['$0 run -d --network appnet --name web IMAGE', 'run a container on it; peers reach it as "web"'],
  ],
});
