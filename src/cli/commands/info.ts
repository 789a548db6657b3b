import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { CommandModule } from 'yargs';
import { execFile } from '../../util/exec.js';
import { storesFor, type GlobalArgs } from '../global.js';
import { VERSION } from '../version.js';

export const infoCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'info',
  describe: 'Show the host, runtime and storage tsbuild uses',
  builder: (y) => y.example('$0 info', 'print system information as JSON') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const runc = await execFile(['runc', '--version']).then((r) => r.stdout.split('\n')[0] ?? '', (err: Error) => `unavailable (${err.message})`);
    const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
    const info = {
      version: VERSION,
      host: {
        os: /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? os.type(),
        kernel: os.release(),
        arch: process.arch,
        cpus: os.cpus().length,
        memTotal: os.totalmem(),
        node: process.version,
      },
      runtime: { name: 'runc', version: runc },
      store: { root: stores.layout.root, driver: 'overlay', images: (await stores.images.list()).length },
    };
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
  },
};
