// A command that only groups subcommands (`tsbuild network ...`, `tsbuild system ...`): yargs needs
// the subcommands registered, one of them required, and examples for --help; nothing else.
import type { Argv, CommandModule } from 'yargs';
import type { GlobalArgs } from './global.js';

export interface CommandGroup {
  name: string;
  describe: string;
  subcommands: readonly CommandModule<never, never>[];
  /** [command line, what it does], shown by --help; $0 is tsbuild. */
  examples: readonly [string, string][];
  epilogue?: string;
}

export function commandGroup(group: CommandGroup): CommandModule<GlobalArgs, GlobalArgs> {
  const article = /^[aeiou]/.test(group.name) ? 'an' : 'a';
  return {
    command: group.name,
    describe: group.describe,
    builder: (y: Argv<GlobalArgs>) => {
      let out = group.subcommands.reduce((acc, sub) => acc.command(sub as CommandModule<GlobalArgs, never>), y);
      out = out.demandCommand(1, `Error: ${article} ${group.name} command is required (see tsbuild ${group.name} --help)`);
      for (const [command, description] of group.examples) out = out.example(command, description);
      return (group.epilogue ? out.epilogue(group.epilogue) : out) as never;
    },
    handler: () => undefined,
  };
}
