import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeCapabilities, parseRunFlags } from '../../../src/build/run-mounts/bud-flags.js';
import { parseRunMounts, type RunMount } from '../../../src/build/run-mounts/parse.js';
import { parseContainerfile, planBuild } from '../../../src/containerfile/index.js';
import { DEFAULT_CAPABILITIES } from '../../../src/runtime/index.js';

const WHERE = 'Containerfile:4';
const vars: Record<string, string> = { TARGET: '/cache', ID: 'npm', MODE: '0700' };
const expand = (raw: string): string => raw.replace(/\$\{?(\w+)\}?/g, (_, name: string) => vars[name] ?? '');

function parse(values: string[], workdir = '/'): RunMount[] {
  return parseRunMounts(values, expand, workdir, WHERE);
}

function error(value: string): string {
  try {
    parse([value]);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`parsing ${value} did not fail`);
}

describe('RUN --mount parser', () => {
  it('reads a bind mount (the default type) with its aliases, read-only unless rw', () => {
    const [m] = parse(['target=/src,source=app,from=build']);
    expect(m).toMatchObject({ type: 'bind', target: '/src', source: 'app', from: 'build', readOnly: true });
    expect(parse(['type=bind,dst=/a,rw'])[0]).toMatchObject({ target: '/a', readOnly: false, source: '/' });
    expect(parse(['type=bind,destination=/a,readwrite=true'])[0]!.readOnly).toBe(false);
    expect(parse(['type=bind,target=/a,rw=false'])[0]!.readOnly).toBe(true);
  });

  it('gives cache mounts their defaults: id = target, shared, 0755 root, writable', () => {
    expect(parse(['type=cache,target=/root/.npm'])[0]).toMatchObject({ id: '/root/.npm', sharing: 'shared', mode: 0o755, uid: 0, gid: 0, readOnly: false });
    expect(parse(['type=cache,target=x,id=go,sharing=locked,mode=0700,uid=1000,gid=1001,ro'], '/work')[0]).toMatchObject({
      target: '/work/x',
      id: 'go',
      sharing: 'locked',
      mode: 0o700,
      uid: 1000,
      gid: 1001,
      readOnly: true,
    });
  });

  it('expands values with the stage variables, never keys', () => {
    expect(parse(['type=cache,target=$TARGET,id=${ID},mode=$MODE'])[0]).toMatchObject({ target: '/cache', id: 'npm', mode: 0o700 });
  });

  it('reads quoted CSV fields', () => {
    expect(parse(['type=bind,"source=a,b",target=/x'])[0]!.source).toBe('a,b');
    expect(parse(['"type=bind","target=/x ""y"""'])[0]!.target).toBe('/x "y"');
  });

  it('gives secrets id/target defaults and the env-only form', () => {
    expect(parse(['type=secret,id=npmrc'])[0]).toMatchObject({ id: 'npmrc', target: '/run/secrets/npmrc', mode: 0o400, readOnly: true, required: false });
    expect(parse(['type=secret,target=/root/.aws/credentials'])[0]).toMatchObject({ id: 'credentials' });
    expect(parse(['type=secret,source=tok'])[0]).toMatchObject({ id: 'tok', target: '/run/secrets/tok' });
    expect(parse(['type=secret,id=aws/credentials'])[0]).toMatchObject({ id: 'aws/credentials', target: '/run/secrets/credentials' });
    expect(parse(['type=secret,id=tok,env=TOKEN'])[0]).toMatchObject({ target: undefined, env: 'TOKEN' });
    expect(parse(['type=secret,id=tok,env=TOKEN,target=/t,required'])[0]).toMatchObject({ target: '/t', env: 'TOKEN', required: true });
  });

  it('numbers default ssh targets per RUN and defaults the id', () => {
    const mounts = parse(['type=ssh', 'type=cache,target=/c', 'type=ssh,id=github,required=true']);
    expect(mounts[0]).toMatchObject({ id: 'default', target: '/run/buildkit/ssh_agent.0', mode: 0o600 });
    expect(mounts[2]).toMatchObject({ id: 'github', target: '/run/buildkit/ssh_agent.1', required: true });
  });

  it('reads tmpfs sizes with units', () => {
    expect(parse(['type=tmpfs,target=/t,size=64m'])[0]!.size).toBe(64 * 1024 * 1024);
    expect(parse(['type=tmpfs,target=/t,size=1g'])[0]!.size).toBe(1024 ** 3);
    expect(parse(['type=tmpfs,target=/t,size=512'])[0]!.size).toBe(512);
    expect(parse(['type=tmpfs,target=/t'])[0]!.size).toBeUndefined();
  });

  it('names file:line and the flag in every error', () => {
    expect(error('type=nfs,target=/x')).toBe('Containerfile:4: RUN --mount=type=nfs,target=/x: unsupported mount type "nfs" (expected bind, cache, tmpfs, secret or ssh)');
    expect(error('target=/x,bogus=1')).toContain('unknown option "bogus"');
    expect(error('target=/x,bogus')).toContain('"bogus" must be a key=value pair');
    expect(error('type=cache,target=/x,mode=rwx')).toContain('mode "rwx" is not an octal file mode');
    expect(error('type=cache,target=/x,uid=-1')).toContain('uid "-1" is not a numeric id');
    expect(error('type=bind,target=/x,uid=1')).toContain('"uid" is not an option of type=bind mounts');
    expect(error('type=bind,target=/x,required')).toContain('"required" is not an option of type=bind mounts');
    expect(error('type=cache,target=/x,env=A')).toContain('"env" is not an option of type=cache mounts');
    expect(error('type=tmpfs,target=/x,size=lots')).toContain('size "lots" is not a size');
    expect(error('type=cache')).toContain('a cache mount needs a target');
    expect(error('type=bind,target=/')).toContain('the target cannot be /');
    expect(error('type=secret')).toContain('a secret mount needs an id');
    expect(error('type=secret,id=a,source=b')).toContain('give either id or source, not both');
    expect(error('type=secret,id=a,from=x')).toContain('a secret mount has no from');
    expect(error('type=bind,"target=/x')).toContain('unterminated quote');
    expect(() => parse(['type=cache,target=/x', 'type=tmpfs,target=/x/'])).toThrow('another --mount of this RUN already uses target /x');
  });
});

describe('capability merging (bud --cap-add/--cap-drop, as buildah)', () => {
  it('adds to and drops from the default set, with or without CAP_, in any case', () => {
    expect(mergeCapabilities([], [])).toBeUndefined();
    const caps = mergeCapabilities(['net_raw'], ['CAP_CHOWN', 'kill'])!;
    expect(caps).toContain('CAP_NET_RAW');
    expect(caps).not.toContain('CAP_CHOWN');
    expect(caps).not.toContain('CAP_KILL');
    expect(caps.length).toBe(DEFAULT_CAPABILITIES.length - 1);
  });

  it('treats ALL in --cap-drop as "only what --cap-add names", and refuses contradictions', () => {
    expect(mergeCapabilities(['chown'], ['ALL'])).toEqual(['CAP_CHOWN']);
    expect(mergeCapabilities(['ALL'], ['sys_admin'])).not.toContain('CAP_SYS_ADMIN');
    expect(() => mergeCapabilities(['ALL'], ['ALL'])).toThrow('cannot be combined');
    expect(() => mergeCapabilities(['CHOWN'], ['chown'])).toThrow('CAP_CHOWN cannot be both added and dropped');
    expect(() => mergeCapabilities(['FLY'], [])).toThrow('--cap-add "FLY": unknown capability');
  });
});

describe('planning RUN --mount from=', () => {
  it('builds the stages RUN --mount reads before the stage that reads them, and nothing else', () => {
    const text = [
      'ARG TOOLS=tools',
      'FROM busybox AS tools',
      'FROM busybox AS unused',
      'FROM busybox AS cachebase',
      'FROM busybox',
      'RUN --mount=type=bind,from=${TOOLS},target=/t --mount=type=cache,target=/c,from=cachebase true',
      'RUN --mount=type=bind,FROM=alpine:3,target=/a true',
    ].join('\n');
    const plan = planBuild(parseContainerfile(text, 'Containerfile'), { buildArgs: new Map() });
    expect(plan.stages.map((s) => s.stage.index)).toEqual([0, 2, 3]);
    expect(plan.stages.at(-1)!.externalImages).toEqual(['alpine:3']);
  });
});

describe('bud --secret, --ssh, --allow parsing', () => {
  it('reads secrets from files and variables, buildx style', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-unit-secret-'));
    try {
      await writeFile(path.join(dir, 'npmrc'), 'file-value');
      const env = { TOKEN: 'env-value', gh: 'by-id-value' };
      const flags = await parseRunFlags(
        { secret: [`id=npm,src=${dir}/npmrc`, `source=${dir}/npmrc`, 'id=tok,env=TOKEN', 'id=t2,type=env,src=TOKEN', 'id=gh'] },
        env,
      );
      expect(Object.fromEntries([...flags.secrets].map(([k, v]) => [k, v.toString()]))).toEqual({
        npm: 'file-value',
        npmrc: 'file-value',
        tok: 'env-value',
        t2: 'env-value',
        gh: 'by-id-value',
      });
      await expect(parseRunFlags({ secret: [`id=x,src=${dir}/missing`] })).rejects.toThrow(`--secret "id=x,src=${dir}/missing": cannot read ${dir}/missing (ENOENT)`);
      await expect(parseRunFlags({ secret: ['id=x,env=UNSET_VAR'] }, {})).rejects.toThrow('the environment variable UNSET_VAR is not set');
      await expect(parseRunFlags({ secret: ['id=x,type=ssh'] })).rejects.toThrow('type must be file or env');
      await expect(parseRunFlags({ secret: ['id=x,mode=0400'] })).rejects.toThrow('unknown key "mode"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('needs an agent socket for --ssh and knows its entitlements', async () => {
    await expect(parseRunFlags({ ssh: ['default'] }, {})).rejects.toThrow('--ssh default: no agent socket given and SSH_AUTH_SOCK is not set');
    await expect(parseRunFlags({ ssh: ['default=/etc'] }, {})).rejects.toThrow('/etc is not an agent socket');
    await expect(parseRunFlags({ ssh: ['default=/etc/passwd'] }, {})).rejects.toThrow('--ssh default=/etc/passwd: cannot load the key into an ssh agent');
    await expect(parseRunFlags({ allow: ['device'] })).rejects.toThrow('--allow "device": expected security.insecure or network.host');
    expect((await parseRunFlags({ allow: ['security.insecure'] })).allow.has('security.insecure')).toBe(true);
  });
});
