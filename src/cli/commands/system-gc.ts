// `tsbuild system prune` and `tsbuild system df`, as podman and docker have them: subcommands of
// `system` (system.ts registers them beside `system check`).
import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { reclaimedLine } from '../gc-flags.js';
import { formatTemplate, humanAge, humanSize, table } from '../render.js';
import type { DiskUsage } from '../../store/disk-usage.js';

interface PruneArgs extends GlobalArgs {
  all: boolean;
  force: boolean;
  volumes: boolean;
}

export const systemPruneCommand: CommandModule<GlobalArgs, PruneArgs> = {
  command: 'prune',
  describe: 'Remove stopped containers, unused networks, dangling images (--all: every unused image) and the build cache; volumes with --volumes',
  builder: (y) =>
    y
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'remove every image no container uses (not only untagged ones) and the whole build cache' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'do not ask for confirmation (tsbuild never asks; accepted for podman scripts)' })
      .option('volumes', { type: 'boolean', default: false, describe: 'also remove volumes no container uses' })
      .example('$0 system prune', 'remove what nothing uses, keeping tagged images and volumes')
      .example('$0 system prune -a --volumes', 'remove everything no container uses') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const [{ pruneContainers }, { createNetworkManager }, { createVolumeStore, listVolumes, volumePaths }, { collectGarbage }, { treeSize }] =
      await Promise.all([
        import('../../container/prune.js'),
        import('../../network/index.js'),
        import('../../volume/store.js'),
        import('../../store/gc.js'),
        import('../../store/references.js'),
      ]);
    const out = (title: string, lines: readonly string[]): void => {
      if (lines.length > 0) process.stdout.write(`${title}\n${lines.map((l) => `${l}\n`).join('')}`);
    };
    // Containers first: what they used (images, networks, volumes) becomes unused.
    const containers = await pruneContainers(stores);
    out('Deleted Containers', containers.removed);
    for (const f of containers.failed) process.stderr.write(`[Warning] cannot remove container ${f.name}: ${f.error.message}\n`);
    out('Deleted Networks', await createNetworkManager(stores).prune());
    let reclaimed = containers.reclaimed;
    if (args.volumes) {
      const sizes = new Map<string, number>();
      for (const v of await listVolumes(stores)) sizes.set(v.name, await treeSize(volumePaths(stores, v.name).data));
      const removed = await createVolumeStore(stores).prune();
      for (const name of removed) reclaimed += sizes.get(name) ?? 0;
      out('Deleted Volumes', removed);
    }
    const gc = await collectGarbage(stores, { images: { all: args.all }, cache: args.all ? 'all' : 'unused' });
    out('Deleted Images', gc.images.map((id) => id.slice(7)));
    if (gc.cacheEntries + gc.cacheMounts + gc.blobs + gc.snapshots > 0) {
      process.stdout.write(`Deleted Build Cache\n${gc.cacheEntries} cache entries, ${gc.cacheMounts} cache mounts, ${gc.blobs} blobs, ${gc.snapshots} snapshots\n`);
    }
    if (gc.cacheMountsInUse > 0) {
      process.stderr.write(`[Warning] ${gc.cacheMountsInUse} RUN cache mount(s) kept: another tsbuild process is running and may be using them\n`);
    }
    process.stdout.write(reclaimedLine(reclaimed + gc.reclaimed));
  },
};

interface DfArgs extends GlobalArgs {
  verbose: boolean;
  format?: string;
}

export const systemDfCommand: CommandModule<GlobalArgs, DfArgs> = {
  command: 'df',
  describe: 'Show the space used by images, containers, volumes and the build cache',
  builder: (y) =>
    y
      .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'show every image, container, volume and build cache item' })
      .option('format', { type: 'string', describe: 'json (sizes in bytes), or a Go template per row: {{.Type}} {{.Total}} {{.Active}} {{.Size}} {{.Reclaimable}}' })
      .example('$0 system df', 'space by kind')
      .example('$0 system df --format json', 'the same as JSON, sizes in bytes')
      .example('$0 system df -v', 'space per image, container, volume and cache item') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { diskUsage } = await import('../../store/disk-usage.js');
    const usage = await diskUsage(stores);
    if (args.format === 'json') {
      const rows = usage.rows.map((r) => ({ Type: r.type, Total: r.total, Active: r.active, Size: r.size, Reclaimable: r.reclaimable }));
      process.stdout.write(`${JSON.stringify(args.verbose ? { ...usage, rows } : rows, null, 2)}\n`);
      return;
    }
    if (args.format !== undefined) {
      for (const r of usage.rows) {
        const row = { Type: r.type, Total: r.total, Active: r.active, Size: humanSize(r.size), Reclaimable: humanSize(r.reclaimable) };
        process.stdout.write(`${formatTemplate(args.format, row)}\n`);
      }
      return;
    }
    if (args.verbose) {
      process.stdout.write(verbose(usage));
      return;
    }
    const percent = (part: number, whole: number): string => `(${whole === 0 ? 0 : Math.round((part / whole) * 100)}%)`;
    const lines = [['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE']];
    for (const r of usage.rows) lines.push([r.type, String(r.total), String(r.active), humanSize(r.size), `${humanSize(r.reclaimable)} ${percent(r.reclaimable, r.size)}`]);
    process.stdout.write(table(lines));
  },
};

function verbose(usage: DiskUsage): string {
  const images = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS']];
  for (const i of usage.images) {
    for (const name of i.names.length > 0 ? i.names : ['<none>:<none>']) {
      const colon = name.lastIndexOf(':');
      images.push([name.slice(0, colon), name.slice(colon + 1), i.id.slice(7, 19), humanAge(i.created), humanSize(i.size), humanSize(i.shared), humanSize(i.size - i.shared), String(i.containers)]);
    }
  }
  const containers = [['CONTAINER ID', 'IMAGE', 'NAMES', 'SIZE', 'STATUS']];
  for (const c of usage.containers) containers.push([c.id.slice(0, 12), c.image, c.name, humanSize(c.size), c.status]);
  const volumes = [['VOLUME NAME', 'LINKS', 'SIZE']];
  for (const v of usage.volumes) volumes.push([v.name, String(v.links), humanSize(v.size)]);
  const cache = [['CACHE ID', 'CACHE TYPE', 'SIZE', 'LAST USED', 'IN USE']];
  for (const b of usage.buildCache) cache.push([b.id.slice(7, 19), b.kind, humanSize(b.size), b.lastUsed ? humanAge(b.lastUsed) : '', b.inUse ? 'true' : 'false']);
  return [
    `Images space usage:\n\n${table(images)}`,
    `Containers space usage:\n\n${table(containers)}`,
    `Local Volumes space usage:\n\n${table(volumes)}`,
    `Build cache usage:\n\n${table(cache)}`,
  ].join('\n');
}
