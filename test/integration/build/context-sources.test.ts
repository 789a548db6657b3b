// Where the build context comes from and what of it a build sees: the Containerfile's own ignore file
// (BuildKit's `<file>.dockerignore`), a context from a git URL, a tarball URL or stdin, ADD <url>
// revalidation on a rebuild, and --ssh with key files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contexts, budOk, setupRoot, sh, teardownRoot, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();

beforeAll(async () => {
  t = await setupRoot();
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

const listing = 'FROM busybox-base\nCOPY . /ctx/\nRUN cd /ctx && find . -type f | sort\n';

describe("the Containerfile's own ignore file", () => {
  it('<file>.dockerignore next to the -f file takes precedence over the context .dockerignore', async () => {
    const ctx = await contexts.make({
      'build/app.Containerfile': listing,
      'build/app.Containerfile.dockerignore': 'b.txt\nbuild\n',
      '.dockerignore': 'a.txt\n',
      'a.txt': 'a\n',
      'b.txt': 'b\n',
    });
    await budOk(t, ctx, ['-f', `${ctx}/build/app.Containerfile`, '-t', 'own-ignore']);
    expect(await sh(t, 'own-ignore', 'cd /ctx && find . -type f | sort')).toBe('./.dockerignore\n./a.txt\n');
  });

  it('<file>.containerignore beats <file>.dockerignore, and Dockerfile.dockerignore applies to Dockerfile', async () => {
    const ctx = await contexts.make({
      Dockerfile: listing,
      'Dockerfile.dockerignore': 'a.txt\n',
      '.containerignore': 'b.txt\n',
      'a.txt': 'a\n',
      'b.txt': 'b\n',
    });
    await budOk(t, ctx, ['-t', 'dockerfile-ignore']);
    expect(await sh(t, 'dockerfile-ignore', 'cd /ctx && ls')).toBe('Dockerfile\nDockerfile.dockerignore\nb.txt\n');
    const ctx2 = await contexts.make({
      Containerfile: listing,
      'Containerfile.containerignore': 'a.txt\n',
      'Containerfile.dockerignore': 'b.txt\n',
      'a.txt': 'a\n',
      'b.txt': 'b\n',
    });
    await budOk(t, ctx2, ['-t', 'containerfile-ignore']);
    expect(await sh(t, 'containerfile-ignore', 'cd /ctx && ls')).toBe('Containerfile\nContainerfile.containerignore\nContainerfile.dockerignore\nb.txt\n');
  });

  it('--ignorefile still wins over both', async () => {
    const ctx = await contexts.make({ Containerfile: listing, 'Containerfile.dockerignore': 'a.txt\n', 'a.txt': 'a\n', 'b.txt': 'b\n', 'only.ignore': 'b.txt\nonly.ignore\n' });
    await budOk(t, ctx, ['--ignorefile', `${ctx}/only.ignore`, '-t', 'ignorefile-wins']);
    expect(await sh(t, 'ignorefile-wins', 'cd /ctx && ls')).toBe('Containerfile\nContainerfile.dockerignore\na.txt\n');
  });
});
