// The command line around builds: bud's flags, images/tag/rmi/inspect, `run` (exit codes, flags,
// names), and save/load checked against skopeo, umoci and podman.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRoot } from '../../helpers/tsbuild.js';
import { Contexts, budOk, host, imageNames, inspectJson, mountsUnder, setupRoot, sh, startCli, teardownRoot, type CliResult, type TestRoot } from './helpers.js';

const STDIN_CONTAINERFILE = [
  'FROM busybox-base',
  'LABEL from-file=yes',
  'RUN cat /proc/net/dev > /netdev.txt',
  'COPY hello.txt /hello.txt',
  'CMD ["cat", "/hello.txt"]',
].join('\n');

let t: TestRoot;
const contexts = new Contexts();
const temps: string[] = [];
let work: string;
let stdinBuild: CliResult;
let stdinId: string;

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

beforeAll(async () => {
  t = await setupRoot();
  work = await tempDir('tsbuild-cli-');
  const ctx = await contexts.make({ 'hello.txt': 'hello from the context\n' });
  stdinBuild = await t.run(
    ['bud', '-f', '-', '-t', 'cli-a', '-t', 'cli-b:v1', '--iidfile', path.join(work, 'iid'), '--label', 'team=qa', '--label', 'from-file=overridden', '--network', 'none', ctx],
    { input: STDIN_CONTAINERFILE },
  );
  if (stdinBuild.code !== 0) throw new Error(`build failed:\n${stdinBuild.stdout}\n${stdinBuild.stderr}`);
  stdinId = await inspectJson<string>(t, 'cli-a', 'Id');
});

afterAll(async () => {
  await contexts.cleanup();
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
  await teardownRoot(t);
});

describe('bud flags', () => {
  it('reads the Containerfile from stdin with -f - and tags the image with every -t', async () => {
    expect(stdinBuild.stdout).toContain('STEP 1/5: FROM busybox-base');
    const names = await imageNames(t);
    expect(names).toEqual(expect.arrayContaining(['localhost/cli-a:latest', 'localhost/cli-b:v1']));
    expect(await inspectJson<string>(t, 'cli-b:v1', 'Id')).toBe(stdinId);
    expect((await t.ok(['run', '--rm', 'cli-b:v1'])).stdout).toBe('hello from the context\n');
  });

  it('writes sha256:<id> to the --iidfile', async () => {
    expect(await readFile(path.join(work, 'iid'), 'utf8')).toBe(`sha256:${stdinId}`);
  });

  it('adds --label to the final image, over a LABEL of the same key', async () => {
    const labels = await inspectJson<Record<string, string>>(t, 'cli-a', 'Config.Labels');
    expect(labels).toEqual({ 'from-file': 'overridden', team: 'qa' });
  });

  it('runs RUN steps with only a loopback interface under --network none', async () => {
    const netdev = await sh(t, 'cli-a', 'cat /netdev.txt');
    const interfaces = netdev.split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0]!.trim());
    expect(interfaces).toEqual(['lo']);
  });

  it('reads a Containerfile outside the context with -f path, and -q prints only the image ID', async () => {
    const ctx = await contexts.make({ 'data.txt': 'data\n' });
    const file = path.join(work, 'Other.containerfile');
    await writeFile(file, 'FROM busybox-base\nCOPY data.txt /data.txt\nRUN echo run-output-goes-to-stderr\n');
    const result = await budOk(t, ctx, ['-q', '-f', file, '-t', 'quiet-img']);
    expect(result.stdout).toMatch(/^[a-f0-9]{64}\n$/);
    expect(result.stderr).toContain('run-output-goes-to-stderr');
    expect(await inspectJson<string>(t, 'quiet-img', 'Id')).toBe(result.stdout.trim());
    expect(await sh(t, 'quiet-img', 'cat /data.txt')).toBe('data\n');
  });

  it('takes a --build-arg given without a value from the environment, and warns about unused ones', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nARG FROM_ENV\nRUN echo "from-env=$FROM_ENV"\n' });
    const result = await t.run(['bud', '--build-arg', 'FROM_ENV', '--build-arg', 'UNUSED=1', ctx], { env: { FROM_ENV: 'env-value' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('from-env=env-value');
    expect(result.stderr).toContain('[Warning] one or more build args were not consumed: [UNUSED]');
  });
});

describe('images, tag, rmi and inspect', () => {
  it('lists images with their names', async () => {
    const { stdout } = await t.ok(['images']);
    expect(stdout).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID/);
    expect(stdout).toMatch(new RegExp(`localhost/cli-b\\s+v1\\s+${stdinId.slice(0, 12)}`));
    expect(stdout).toMatch(/localhost\/busybox-base\s+latest/);
    expect((await t.ok(['images', '-q'])).stdout.split('\n')).toContain(stdinId.slice(0, 12));
    expect((await t.ok(['images', '--no-trunc'])).stdout).toContain(`sha256:${stdinId}`);
  });

  it('inspects an image', async () => {
    const [image] = JSON.parse((await t.ok(['inspect', 'cli-a'])).stdout) as Array<Record<string, unknown>>;
    expect(image?.Id).toBe(stdinId);
    expect(image?.RepoTags).toEqual(expect.arrayContaining(['localhost/cli-a:latest', 'localhost/cli-b:v1']));
    expect((image?.Config as { Cmd: string[] }).Cmd).toEqual(['cat', '/hello.txt']);
    expect(image?.Os).toBe('linux');
    expect((await t.ok(['inspect', '-f', '{{.Config.Cmd}}', stdinId.slice(0, 12)])).stdout).toBe('[cat /hello.txt]\n');
  });

  it('exits 1 for an unknown image even when its name is the word "run"', async () => {
    const result = await t.run(['inspect', 'run']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Error: image "run" not found');
  });

  it('tag adds a name; rmi of one of two names untags; rmi of the last name deletes the image', async () => {
    const id = await inspectJson<string>(t, 'quiet-img', 'Id');
    await t.ok(['tag', 'quiet-img', 'extra-name:2']);
    expect(await imageNames(t)).toEqual(expect.arrayContaining(['localhost/quiet-img:latest', 'localhost/extra-name:2']));
    expect(await inspectJson<string>(t, 'extra-name:2', 'Id')).toBe(id);

    const untag = await t.ok(['rmi', 'extra-name:2']);
    expect(untag.stdout).toBe('Untagged: localhost/extra-name:2\n');
    expect(await imageNames(t)).not.toContain('localhost/extra-name:2');
    expect(await inspectJson<string>(t, 'quiet-img', 'Id')).toBe(id);

    // Tagging a name another image has moves it.
    await t.ok(['tag', 'busybox-base', 'moving-name']);
    await t.ok(['tag', 'quiet-img', 'moving-name']);
    expect(await inspectJson<string>(t, 'moving-name', 'Id')).toBe(id);
    expect(await inspectJson<string[]>(t, 'busybox-base', 'RepoTags')).toEqual(['localhost/busybox-base:latest']);
    // By ID, an image with several names goes only with --force.
    const refused = await t.run(['rmi', id.slice(0, 12)]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('has several names');
    await t.ok(['rmi', 'moving-name']);

    const remove = await t.ok(['rmi', 'quiet-img']);
    expect(remove.stdout).toBe(`Untagged: localhost/quiet-img:latest\nDeleted: ${id}\n`);
    const gone = await t.run(['inspect', 'quiet-img']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('Error: image "quiet-img" not found');
    expect(gone.stderr).not.toMatch(/^\s+at /m);
    expect((await t.ok(['images', '-q', '--no-trunc'])).stdout).not.toContain(id);
  });
});

describe('run', () => {
  it('exits with the container\'s exit code', async () => {
    const result = await t.run(['run', '--rm', 'busybox-base', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(result).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('exits 127 when the command does not exist', async () => {
    const result = await t.run(['run', '--rm', 'busybox-base', 'no-such-command']);
    expect(result.code).toBe(127);
    expect(result.stderr).toMatch(/executable file .*no-such-command.* not found/);
  });

  it('exits 125 for an unknown image', async () => {
    const result = await t.run(['run', '--rm', 'no-such-image', 'true']);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain('Error: image "no-such-image" not found');
  });

  it('applies -e, -w, -u and --entrypoint', async () => {
    const result = await t.ok([
      'run', '--rm', '-e', 'GREETING=hi there', '-w', '/tmp/newdir', '-u', '1234:5678',
      '--entrypoint', '["/bin/sh", "-c"]', 'busybox-base', 'echo "$GREETING"; pwd; id -u; id -g',
    ]);
    expect(result.stdout).toBe('hi there\n/tmp/newdir\n1234\n5678\n');
    const plain = await t.ok(['run', '--rm', '--entrypoint', '/bin/echo', 'cli-a', 'replaced', 'cmd']);
    expect(plain.stdout).toBe('replaced cmd\n');
  });

  it('passes stdin to the container', async () => {
    expect((await t.run(['run', '--rm', 'busybox-base', 'cat'], { input: 'piped in\n' })).stdout).toBe('piped in\n');
  });

  it('exits 125 when -w names a file of the image', async () => {
    const result = await t.run(['run', '--rm', '-w', '/etc/passwd', 'busybox-base', 'pwd']);
    expect(result.code).toBe(125);
    expect(result.stderr).toBe('Error: working directory /etc/passwd is not a directory in the container\n');
  });

  it('passes arguments that look like flags to the container', async () => {
    expect((await t.ok(['run', '--rm', 'busybox-base', 'ls', '-d', '/tmp'])).stdout).toBe('/tmp\n');
  });

  it('refuses a second container with a name in use until the first is removed', async () => {
    expect((await t.run(['run', '--name', 'named', 'busybox-base', 'sh', '-c', 'exit 4'])).code).toBe(4);
    const state = JSON.parse((await t.ok(['inspect', '--type', 'container', 'named'])).stdout) as Array<{ Name: string; State: { Status: string; ExitCode: number } }>;
    expect(state[0]).toMatchObject({ Name: 'named', State: { Status: 'exited', ExitCode: 4 } });
    const second = await t.run(['run', '--name', 'named', 'busybox-base', 'true']);
    expect(second.code).toBe(125);
    expect(second.stderr).toContain('already in use');
    await t.ok(['rm', 'named']);
    await t.ok(['run', '--rm', '--name', 'named', 'busybox-base', 'true']);
    expect((await t.run(['rm', 'named'])).code).not.toBe(0);
  });

  it('marks an interrupted container as exited, so it can be removed', async () => {
    const running = startCli(t, ['run', '--name', 'interrupted', 'busybox-base', 'sh', '-c', 'echo up-$((1+1)); sleep 60']);
    await running.waitForOutput('up-2');
    running.kill('SIGINT');
    const result = await running.exited;
    expect(result.code).toBe(125);
    expect(result.stderr).toContain('Error: interrupted');
    const [record] = JSON.parse((await t.ok(['inspect', '--type', 'container', 'interrupted'])).stdout) as Array<{ State: { Status: string; ExitCode: number } }>;
    expect(record?.State).toMatchObject({ Status: 'exited', ExitCode: 137 });
    await t.ok(['rm', 'interrupted']);
    expect(await mountsUnder(t.root)).toEqual([]);
  });

  it('gives a container only a loopback interface with --network none', async () => {
    const out = await sh(t, 'busybox-base', 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "');
    expect(out.split('\n').filter(Boolean).length).toBeGreaterThan(1);
    const none = (await t.ok(['run', '--rm', '--network', 'none', 'busybox-base', 'sh', '-c', 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'])).stdout;
    expect(none).toBe('lo\n');
  });
});

describe('save and load', () => {
  let ociArchive: string;
  let singleOciArchive: string;
  let dockerArchive: string;
  let layerCount: number;

  beforeAll(async () => {
    ociArchive = path.join(work, 'cli-oci.tar');
    singleOciArchive = path.join(work, 'cli-oci-single.tar');
    dockerArchive = path.join(work, 'cli-docker.tar');
    await t.ok(['save', '--format', 'oci-archive', '-o', ociArchive, 'cli-a', 'cli-b:v1']);
    // podman loads an oci-archive only when its index has one entry (one name).
    await t.ok(['save', '--format', 'oci-archive', '-o', singleOciArchive, 'cli-a']);
    await t.ok(['save', '--format', 'docker-archive', '-o', dockerArchive, 'cli-a']);
    layerCount = (await inspectJson<{ Layers: string[] }>(t, 'cli-a', 'RootFS')).Layers.length;
  });

  it('writes an oci-archive that skopeo reads: the layers and the Cmd', () => {
    const ref = `oci-archive:${ociArchive}:v1`;
    const info = JSON.parse(host(['skopeo', 'inspect', ref])) as { Layers: string[] };
    expect(info.Layers).toHaveLength(layerCount);
    const config = JSON.parse(host(['skopeo', 'inspect', '--config', ref])) as { config: { Cmd: string[] } };
    expect(config.config.Cmd).toEqual(['cat', '/hello.txt']);
  });

  it('writes an oci-archive that umoci unpacks with the files in it', async () => {
    const dir = await tempDir('tsbuild-cli-umoci-');
    host(['skopeo', 'copy', '--quiet', `oci-archive:${ociArchive}:v1`, `oci:${path.join(dir, 'layout')}:v1`]);
    host(['umoci', 'unpack', '--image', `${path.join(dir, 'layout')}:v1`, path.join(dir, 'bundle')]);
    expect(await readFile(path.join(dir, 'bundle', 'rootfs', 'hello.txt'), 'utf8')).toBe('hello from the context\n');
    expect(await readFile(path.join(dir, 'bundle', 'rootfs', 'etc', 'passwd'), 'utf8')).toContain('root:x:0:0');
  });

  it('writes oci-archive and docker-archive files that podman loads', async () => {
    const dir = await tempDir('tsbuild-cli-podman-');
    const podman = (args: string[]): string =>
      // A private --tmpdir too: the default /run/libpod is shared with other tests' podman.
      host(['podman', '--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'runroot'), '--tmpdir', path.join(dir, 'tmp'), '--storage-driver', 'vfs', ...args]);
    try {
      expect(podman(['load', '-i', singleOciArchive])).toContain('Loaded image');
      expect(podman(['load', '-i', dockerArchive])).toContain('Loaded image');
      const images = podman(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
      expect(images).toContain(`localhost/cli-a:latest ${stdinId.slice(0, 12)}`);
    } finally {
      try {
        podman(['rmi', '-a', '-f']);
      } catch {
        // Best effort: the temp dir goes anyway.
      }
    }
  });

  it('loads into a fresh root with the same ID and names, and the image runs there', async () => {
    const other = await createTestRoot();
    try {
      const loaded = await other.ok(['load', '-i', ociArchive]);
      expect(loaded.stdout).toContain('localhost/cli-a:latest');
      // Loading what is already there is not an error.
      await other.ok(['load', '-i', ociArchive]);
      expect(await inspectJson<string>(other, 'cli-a', 'Id')).toBe(stdinId);
      expect(await imageNames(other)).toEqual(expect.arrayContaining(['localhost/cli-a:latest', 'localhost/cli-b:v1']));
      expect((await other.ok(['run', '--rm', 'cli-b:v1'])).stdout).toBe('hello from the context\n');

      const fromDocker = await createTestRoot();
      try {
        await fromDocker.ok(['load', '-i', dockerArchive]);
        expect(await inspectJson<string>(fromDocker, 'cli-a', 'Id')).toBe(stdinId);
        expect((await fromDocker.ok(['run', '--rm', 'cli-a'])).stdout).toBe('hello from the context\n');
        expect(await mountsUnder(fromDocker.root)).toEqual([]);
      } finally {
        await fromDocker.cleanup();
      }
      expect(await mountsUnder(other.root)).toEqual([]);
    } finally {
      await other.cleanup();
    }
  });
});
