import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';

interface PortArgs extends GlobalArgs {
  container: string;
  port?: string;
}

export const portCommand: CommandModule<GlobalArgs, PortArgs> = {
  command: 'port <container> [port]',
  describe: 'List the published ports of a container',
  builder: (y) =>
    y
      .positional('container', { type: 'string', demandOption: true, describe: 'container name or ID' })
      .positional('port', { type: 'string', describe: 'one container port: PORT[/PROTO]' })
      .example('$0 port web', 'every mapping, e.g. "80/tcp -> 127.0.0.1:8080"')
      .example('$0 port web 80', 'the host address of port 80') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { requireContainer } = await import('../../container/records.js');
    const { publishedPorts } = await import('../../container/inspect.js');
    const record = await requireContainer(stores, args.container);
    const ports = record.state === 'running' ? publishedPorts(record) : [];
    const host = (p: { hostIp: string; hostPort: number }): string => `${p.hostIp || '0.0.0.0'}:${p.hostPort}`;
    if (args.port !== undefined) {
      const [num, proto = 'tcp'] = String(args.port).split('/');
      const matching = ports.filter((p) => String(p.containerPort) === num && p.protocol === proto);
      if (matching.length === 0) throw new TsbuildError('NOT_FOUND', `no public port ${num}/${proto} published for container "${record.name}"`, { exitCode: 125 });
      process.stdout.write(matching.map((p) => `${host(p)}\n`).join(''));
      return;
    }
    process.stdout.write(ports.map((p) => `${p.containerPort}/${p.protocol} -> ${host(p)}\n`).join(''));
  },
};
