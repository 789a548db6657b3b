import type { CommandModule } from 'yargs';
import { VERSION } from '../version.js';

export const versionCommand: CommandModule = {
  command: 'version',
  describe: 'Show the tsbuild version',
  builder: (y) => y.example('$0 version', 'print the version of tsbuild and Node.js'),
  handler: () => {
    process.stdout.write(`Version:      ${VERSION}\nNode.js:      ${process.version}\nOS/Arch:      linux/${process.arch}\n`);
  },
};
