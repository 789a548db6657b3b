import { describe, expect, it } from 'vitest';
import { separateContainerCommand as separateExecCommand } from '../../../src/cli/argv.js';
import { adjustCapabilities, execEnv, execProcessSpec } from '../../../src/container/exec.js';
import { defaultConfig, type ContainerRecord } from '../../../src/container/types.js';

const record = (fields: Partial<ContainerRecord['config']> = {}): ContainerRecord => ({
  id: 'a'.repeat(64),
  name: 'web',
  kind: 'container',
  image: 'busybox',
  imageId: 'sha256:x',
  created: '',
  state: 'running',
  config: defaultConfig(fields),
});

describe('separateExecCommand', () => {
  it('gives everything after the container to the command', () => {
    expect(separateExecCommand(['exec', 'web', 'ls', '-l'])).toEqual(['exec', 'web', '--', 'ls', '-l']);
  });
  it('skips our options and their values before the container', () => {
    expect(separateExecCommand(['--root', '/r', 'exec', '-it', '-e', 'A=1', '-u', '1000', '-w', '/tmp', 'web', 'sh', '-c', 'x'])).toEqual([
      '--root', '/r', 'exec', '-it', '-e', 'A=1', '-u', '1000', '-w', '/tmp', 'web', '--', 'sh', '-c', 'x',
    ]);
  });
  it('leaves other commands and an explicit -- alone', () => {
    expect(separateExecCommand(['ps', '-a'])).toEqual(['ps', '-a']);
    expect(separateExecCommand(['exec', 'web', '--', 'ls', '-l'])).toEqual(['exec', 'web', '--', 'ls', '-l']);
  });
});

describe('execEnv', () => {
  it('starts from the container environment, later values win, PATH defaults', () => {
    expect(execEnv(['A=1', 'B=2'], ['B=3', 'C=4'], false)).toEqual(['A=1', 'B=3', 'C=4', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  });
  it('takes a bare name from our environment and adds TERM with a terminal', () => {
    process.env.TSBUILD_EXEC_TEST = 'ours';
    const env = execEnv(['PATH=/bin'], ['TSBUILD_EXEC_TEST', 'TSBUILD_UNSET_VAR'], true);
    expect(env).toEqual(['PATH=/bin', 'TSBUILD_EXEC_TEST=ours', 'TERM=xterm']);
  });
  it('rejects an empty name', () => {
    expect(() => execEnv([], ['=x'], false)).toThrow(/name is empty/);
  });
});

describe('execProcessSpec', () => {
  const fields = { args: ['ls'], env: ['PATH=/bin'], cwd: '/tmp', user: { uid: 1000, gid: 1000, additionalGids: [] }, terminal: false, privileged: false };
  it('keeps the container bundle capabilities, rlimits and no-new-privileges', () => {
    const base = {
      terminal: false,
      user: { uid: 0, gid: 0, additionalGids: [] },
      args: ['sleep'],
      env: [],
      cwd: '/',
      capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: ['CAP_KILL'], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    };
    const spec = execProcessSpec(base, record(), fields);
    expect(spec.capabilities.bounding).toEqual(['CAP_KILL']);
    expect(spec.rlimits).toEqual(base.rlimits);
    expect(spec.noNewPrivileges).toBe(true);
    expect(spec.args).toEqual(['ls']);
    expect(spec.cwd).toBe('/tmp');
    expect(spec.user.uid).toBe(1000);
  });
  it('recomputes the capabilities from the config without a bundle, and --privileged gives all', () => {
    const spec = execProcessSpec(undefined, record({ capAdd: ['net_admin'], capDrop: ['CAP_KILL'] }), fields);
    expect(spec.capabilities.bounding).toContain('CAP_NET_ADMIN');
    expect(spec.capabilities.bounding).not.toContain('CAP_KILL');
    const priv = execProcessSpec(undefined, record(), { ...fields, privileged: true });
    expect(priv.capabilities.bounding.length).toBeGreaterThan(20);
    expect(priv.noNewPrivileges).toBe(false);
  });
});

describe('adjustCapabilities', () => {
  it('drops ALL then adds back', () => {
    expect(adjustCapabilities(['CAP_KILL', 'CAP_CHOWN'], ['chown'], ['ALL'])).toEqual(['CAP_CHOWN']);
  });
});
