import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { formatTemplate, table } from '../render.js';

interface PsArgs extends GlobalArgs {
  all: boolean;
  quiet: boolean;
  format?: string;
  filter: string[];
  trunc: boolean;
  latest: boolean;
}

const COLUMNS: [header: string, field: string][] = [
  ['CONTAINER ID', 'ID'],
  ['IMAGE', 'Image'],
  ['COMMAND', 'Command'],
  ['CREATED', 'Created'],
  ['STATUS', 'Status'],
  ['PORTS', 'Ports'],
  ['NAMES', 'Names'],
];

export const psCommand: CommandModule<GlobalArgs, PsArgs> = {
  command: 'ps',
  describe: 'List containers (running ones; -a: all)',
  builder: (y) =>
    y
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'show every container, not only running ones' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print container IDs only' })
      .option('format', { type: 'string', describe: 'json, table, or a Go-template-like format such as "{{.Names}} {{.Status}}"' })
      .option('filter', { alias: 'f', type: 'string', array: true, nargs: 1, default: [], describe: 'name=REGEX, status=created|running|exited, id=PREFIX, label=KEY[=VALUE], ancestor=IMAGE' })
      .option('trunc', { type: 'boolean', default: true, describe: 'shorten IDs and commands (--no-trunc: in full)' })
      .option('latest', { alias: 'l', type: 'boolean', default: false, describe: 'only the latest created container' })
      .example('$0 ps', 'running containers')
      .example('$0 ps -a --filter status=exited', 'exited containers')
      .example('$0 ps --format "{{.Names}} {{.Status}}"', 'names and states') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { psContainers } = await import('../../container/ps.js');
    const { psEntry, portsText, statusText } = await import('../../container/inspect.js');
    const { humanAge } = await import('../render.js');
    let records = await psContainers(stores, { all: args.all || args.latest, filters: args.filter });
    if (args.latest) records = records.slice(0, 1);
    if (args.quiet) {
      process.stdout.write(records.map((r) => `${args.trunc ? r.id.slice(0, 12) : r.id}\n`).join(''));
      return;
    }
    if (args.format === 'json') {
      process.stdout.write(`${JSON.stringify(records.map((r) => psEntry(r)), null, 4)}\n`);
      return;
    }
    const now = Date.now();
    const rows = records.map((r) => {
      const command = r.config.args.join(' ');
      return {
        ...psEntry(r, now),
        ID: args.trunc ? r.id.slice(0, 12) : r.id,
        Command: args.trunc && command.length > 20 ? `${command.slice(0, 17)}...` : command,
        Created: humanAge(r.created, now),
        CreatedHuman: humanAge(r.created, now),
        Status: statusText(r, now),
        Ports: portsText(r),
        Names: r.name,
        Networks: r.config.network.mode === 'bridge' ? r.config.network.networks.map((n) => n.name).join(',') : r.config.network.mode,
        Labels: Object.entries(r.config.labels).map(([k, v]) => `${k}=${v}`).join(','),
      } as Record<string, unknown>;
    });
    let template = args.format;
    if (template === undefined || template === 'table') {
      const header = COLUMNS.map(([h]) => h);
      process.stdout.write(table([header, ...rows.map((row) => COLUMNS.map(([, f]) => String(row[f] ?? '')))]));
      return;
    }
    let header: string | undefined;
    if (template.startsWith('table ')) {
      template = template.slice('table '.length);
      header = template.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, f: string) => COLUMNS.find(([, c]) => c === f)?.[0] ?? f.toUpperCase());
    }
    const lines = rows.map((row) => formatTemplate(template, row));
    process.stdout.write([...(header !== undefined ? [formatTemplate(header, {})] : []), ...lines].map((l) => `${l}\n`).join(''));
  },
};
