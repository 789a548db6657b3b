// The same Containerfile built by tsbuild and by Debian's buildah 1.28: the config fields and the
// file tree a user would see must agree (mtimes aside, which differ between any two builds).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree } from '../../helpers/buildah.js';
import { Contexts, setupRoot, teardownRoot, type TestRoot } from './helpers.js';

// Under CI a missing buildah is a set-up failure, not a reason to skip (scripts/setup.sh installs it).
const available = buildahAvailable() || process.env.CI === 'true';

describe.runIf(available)('side by side with buildah', () => {
  let t: TestRoot;
  const contexts = new Contexts();
  beforeAll(async () => {
    t = await setupRoot();
  });
  afterAll(async () => {
    await contexts.cleanup();
    await teardownRoot(t);
  });

  it('gives the same config and file tree for RUN, COPY, ENV, WORKDIR, USER and CMD', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM localhost/busybox-base',
        'ENV GREETING=hello PATH=/usr/local/bin:/usr/bin:/bin',
        'WORKDIR /app',
        'COPY --chown=1000:1000 files/ ./',
        'RUN mkdir -p /data && echo "$GREETING" > /data/greeting && chmod 640 /data/greeting && ln -s /data/greeting /app/link',
        'RUN rm /app/remove-me',
        'USER 1000',
        'EXPOSE 8080/tcp 53/udp',
        'LABEL org.example.a=1 b="two words"',
        'CMD ["sh", "-c", "cat /data/greeting"]',
      ].join('\n'),
      'files/a.txt': 'a\n',
      'files/sub/b.txt': 'b\n',
      'files/remove-me': 'x\n',
    });
    const { tsbuild, buildah } = await buildBoth(ctx, [], t, 'localhost/compare-basic');
    for (const field of ['WorkingDir', 'User', 'ExposedPorts', 'Cmd', 'Entrypoint']) {
      expect.soft(tsbuild.config.config[field], field).toEqual(buildah.config.config[field]);
    }
    // Same variables and values; the order differs: tsbuild keeps a variable ENV sets again in its
    // place (BuildKit's addEnv, the reference), buildah 1.28 moves it to the end.
    expect(tsbuild.config.config.Env).toEqual(['PATH=/usr/local/bin:/usr/bin:/bin', 'GREETING=hello']);
    expect.soft([...tsbuild.config.config.Env].sort()).toEqual([...buildah.config.config.Env].sort());
    const { 'io.buildah.version': _version, ...buildahLabels } = buildah.config.config.Labels;
    expect.soft(tsbuild.config.config.Labels).toEqual(buildahLabels);
    // WORKDIR of a missing directory is a layer of its own in BuildKit (the reference) and tsbuild;
    // buildah creates the directory in the next layer instead.
    expect(tsbuild.config.rootfs.diff_ids.length).toBe(buildah.config.rootfs.diff_ids.length + 1);
    // buildah leaves the RUN mount points it created in the layer; the reference (BuildKit) does not.
    const runLeftovers = (p: string): boolean => /^(dev|proc|sys|run|etc\/(hosts|resolv\.conf|hostname))$/.test(p);
    // COPY --chown into an existing directory leaves that directory's owner alone in BuildKit (the
    // reference) and tsbuild; buildah chowns it too.
    expect(tsbuild.files.get('app')?.uid).toBe(0);
    const skip = (p: string): boolean => runLeftovers(p) || p === 'app';
    expect(comparableTree(tsbuild, skip)).toEqual(comparableTree(buildah, skip));
  });
});
