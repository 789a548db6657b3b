// Which module holds which command. main.ts loads only the module of the command word it was given
// (every command module loads its own dependencies, and all of them together cost tens of
// milliseconds at start-up); top-level help, completion and unknown words load them all.
import type { CommandModule } from 'yargs';

type AnyCommand = CommandModule<never, never>;
type Loader = () => Promise<AnyCommand[]>;

const one =
  <K extends string>(load: () => Promise<Record<K, unknown>>, ...names: K[]): Loader =>
  async () => {
    const module = await load();
    return names.map((n) => module[n] as AnyCommand);
  };

// In the order `tsbuild --help` lists them.
const TABLE: [words: string[], load: Loader][] = [
  [['bud', 'build', 'build-using-dockerfile'], one(() => import('./commands/build.js'), 'buildCommand')],
  [['lint'], one(() => import('./commands/lint.js'), 'lintCommand')],
  [['images'], one(() => import('./commands/images.js'), 'imagesCommand')],
  [['inspect'], one(() => import('./commands/inspect.js'), 'inspectCommand')],
  [['tag'], one(() => import('./commands/tag.js'), 'tagCommand')],
  [['rmi'], one(() => import('./commands/rmi.js'), 'rmiCommand')],
  [['image'], one(() => import('./commands/image.js'), 'imageCommand')],
  [['save'], one(() => import('./commands/save.js'), 'saveCommand')],
  [['load'], one(() => import('./commands/load.js'), 'loadCommand')],
  [['pull'], one(() => import('./commands/pull.js'), 'pullCommand')],
  [['push'], one(() => import('./commands/push.js'), 'pushCommand')],
  [['login'], one(() => import('./commands/login.js'), 'loginCommand')],
  [['logout'], one(() => import('./commands/logout.js'), 'logoutCommand')],
  [['run'], one(() => import('./commands/run.js'), 'runCommand')],
  [['create'], one(() => import('./commands/create.js'), 'createCommand')],
  [['start'], one(() => import('./commands/start.js'), 'startCommand')],
  [['stop'], one(() => import('./commands/stop.js'), 'stopCommand')],
  [['kill'], one(() => import('./commands/kill.js'), 'killCommand')],
  [['restart'], one(() => import('./commands/restart.js'), 'restartCommand')],
  [['wait'], one(() => import('./commands/wait.js'), 'waitCommand')],
  [['rm'], one(() => import('./commands/rm.js'), 'rmCommand')],
  [['ps'], one(() => import('./commands/ps.js'), 'psCommand')],
  [['logs'], one(() => import('./commands/logs.js'), 'logsCommand')],
  [['exec'], one(() => import('./commands/exec.js'), 'execCommand')],
  [['cp'], one(() => import('./commands/cp.js'), 'cpCommand')],
  [['top'], one(() => import('./commands/top.js'), 'topCommand')],
  [['port'], one(() => import('./commands/port.js'), 'portCommand')],
  [['container'], one(() => import('./commands/container.js'), 'containerCommand')],
  [['network'], one(() => import('./commands/network.js'), 'networkCommand')],
  [['volume'], one(() => import('./commands/volume.js'), 'volumeCommand')],
  [['builder'], one(() => import('./commands/builder.js'), 'builderCommand')],
  [['wc'], one(() => import('./commands/wc.js'), 'wcCommand')],
  [['from'], one(() => import('./commands/from.js'), 'fromCommand')],
  [['copy', 'add'], one(() => import('./commands/copy.js'), 'copyCommand', 'addCommand')],
  [['config'], one(() => import('./commands/config.js'), 'configCommand')],
  [['containers'], one(() => import('./commands/containers.js'), 'containersCommand')],
  [['commit'], one(() => import('./commands/commit.js'), 'commitCommand')],
  [['mount'], one(() => import('./commands/mount.js'), 'mountCommand')],
  [['umount', 'unmount'], one(() => import('./commands/umount.js'), 'umountCommand')],
  [['version'], one(() => import('./commands/version.js'), 'versionCommand')],
  [['info'], one(() => import('./commands/info.js'), 'infoCommand')],
  [['system'], one(() => import('./commands/system.js'), 'systemCommand')],
];

/** The command modules to register for `word` (the command word of argv, if any). */
export async function commandsFor(word: string | undefined): Promise<AnyCommand[]> {
  const entry = word === undefined ? undefined : TABLE.find(([words]) => words.includes(word));
  if (entry) return entry[1]();
  return (await Promise.all(TABLE.map(([, load]) => load()))).flat();
}
