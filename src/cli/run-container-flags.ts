// The bud flags of RUN containers, as buildah names them (and docker buildx for --secret, --ssh,
// --allow): declared here, parsed by src/build/run-mounts/bud-flags.ts.
import type { Argv } from 'yargs';
import { resourceFlagArgs, type ResourceArgs } from './bud-compat.js';

export interface RunContainerArgs {
  volume: string[];
  'cap-add': string[];
  'cap-drop': string[];
  hosts: boolean;
  'add-host': string[];
  dns: string[];
  'dns-search': string[];
  'dns-option': string[];
  secret: string[];
  ssh: string[];
  allow: string[];
}

export function runContainerOptions<T>(y: Argv<T>): Argv<T & RunContainerArgs> {
  return y
    .option('volume', { alias: 'v', type: 'string', array: true, nargs: 1, default: [], describe: 'bind HOST-DIR:CONTAINER-DIR[:ro|rw|O|z|Z] into every RUN (never part of a layer)' })
    .option('cap-add', { type: 'string', array: true, nargs: 1, default: [], describe: 'add a capability to RUN containers (ALL: every one)' })
    .option('cap-drop', { type: 'string', array: true, nargs: 1, default: [], describe: 'drop a capability from RUN containers (ALL: every one)' })
    // Declared as "hosts" for the same reason as "cache": yargs reads --no-hosts as its negation.
    .option('hosts', { type: 'boolean', default: true, describe: "generate /etc/hosts of RUN containers (--no-hosts: keep the image's)" })
    .option('add-host', { type: 'string', array: true, nargs: 1, default: [], describe: 'add HOST:IP to /etc/hosts of RUN containers (repeatable)' })
    .option('dns', { type: 'string', array: true, nargs: 1, default: [], describe: 'nameserver for RUN containers (none: keep the image\'s resolv.conf)' })
    .option('dns-search', { type: 'string', array: true, nargs: 1, default: [], describe: 'DNS search domain for RUN containers' })
    .option('dns-option', { type: 'string', array: true, nargs: 1, default: [], describe: 'resolver option for RUN containers' })
    .option('secret', { type: 'string', array: true, nargs: 1, default: [], describe: 'secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VARIABLE' })
    .option('ssh', { type: 'string', array: true, nargs: 1, default: [], describe: 'ssh agent for RUN --mount=type=ssh: default ($SSH_AUTH_SOCK), ID=SOCKET, or ID=KEYFILE[,KEYFILE...] (served by a private agent)' })
    .option('allow', { type: 'string', array: true, nargs: 1, default: [], describe: 'allow an entitlement: security.insecure (RUN --security=insecure)' }) as Argv<T & RunContainerArgs>;
}

/** What parseRunFlags takes, from the parsed arguments. */
export function runContainerFlagArgs(args: RunContainerArgs & ResourceArgs) {
  return {
    volume: args.volume,
    capAdd: args['cap-add'],
    capDrop: args['cap-drop'],
    noHosts: !args.hosts,
    addHost: args['add-host'],
    dns: args.dns,
    dnsSearch: args['dns-search'],
    dnsOption: args['dns-option'],
    secret: args.secret,
    ssh: args.ssh,
    allow: args.allow,
    resources: resourceFlagArgs(args),
  };
}
