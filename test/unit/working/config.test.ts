import { describe, expect, it } from 'vitest';
import { emptyConfig } from '../../../src/build/stage-state.js';
import { separateContainerCommand as separateWorkingRunCommand } from '../../../src/cli/argv.js';
import { applyChange } from '../../../src/working/commit.js';
import { applyConfigEdits, shellWords } from '../../../src/working/config.js';
import { workingContainerName } from '../../../src/working/records.js';

describe('buildah config semantics', () => {
  it('takes --cmd as a JSON array or a command line split into words', () => {
    const c = emptyConfig();
    applyConfigEdits(c, { cmd: '["cat","/hello"]' });
    expect(c.config.Cmd).toEqual(['cat', '/hello']);
    applyConfigEdits(c, { cmd: `echo 'a b' "c \\"d\\"" e\\ f` });
    expect(c.config.Cmd).toEqual(['echo', 'a b', 'c "d"', 'e f']);
    applyConfigEdits(c, { cmd: '' });
    expect(c.config.Cmd).toBeNull();
  });

  it('runs a string --entrypoint under /bin/sh -c and keeps a JSON one', () => {
    const c = emptyConfig();
    applyConfigEdits(c, { entrypoint: 'exec app --flag' });
    expect(c.config.Entrypoint).toEqual(['/bin/sh', '-c', 'exec app --flag']);
    applyConfigEdits(c, { entrypoint: '["/app"]' });
    expect(c.config.Entrypoint).toEqual(['/app']);
  });

  it('sets and removes env, labels, ports and volumes with the trailing-dash form', () => {
    const c = emptyConfig();
    applyConfigEdits(c, { env: ['A=1', 'B=x=y'], labels: ['k=v', 'gone=1'], ports: ['80', '53/udp'], volumes: ['/data', '/tmp/v'] });
    applyConfigEdits(c, { env: ['A-', 'B=2'], labels: ['gone-'], ports: ['80-'], volumes: ['/tmp/v-'] });
    expect(c.config.Env).toEqual(['B=2']);
    expect(c.config.Labels).toEqual({ k: 'v' });
    expect(c.config.ExposedPorts).toEqual({ '53/udp': {} });
    expect(c.config.Volumes).toEqual({ '/data': {} });
  });

  it('rejects bad values naming the flag', () => {
    expect(() => applyConfigEdits(emptyConfig(), { ports: ['http'] })).toThrow(/--port http/);
    expect(() => applyConfigEdits(emptyConfig(), { workingDir: 'rel' })).toThrow(/--workingdir rel/);
    expect(() => applyConfigEdits(emptyConfig(), { stopSignal: 'SIGNOPE' })).toThrow(/--stop-signal/);
    expect(() => applyConfigEdits(emptyConfig(), { cmd: '["a", 1]' })).toThrow(/array of strings/);
    expect(() => shellWords('a "b', '--cmd')).toThrow(/unterminated/);
  });

  it('applies commit --change instructions', () => {
    const c = emptyConfig();
    applyChange(c, 'ENV A=1');
    applyChange(c, 'CMD ["x", "$A"]');
    applyChange(c, 'WORKDIR /srv');
    applyChange(c, 'WORKDIR sub');
    applyChange(c, 'LABEL a=b');
    expect(c.config).toMatchObject({ Env: ['A=1'], Cmd: ['x', '$A'], WorkingDir: '/srv/sub', Labels: { a: 'b' } });
    expect(() => applyChange(c, 'RUN true')).toThrow(/RUN is not supported by --change/);
  });
});

describe('names and argv', () => {
  it('names working containers after the image base name, as buildah does', () => {
    expect(workingContainerName('docker.io/library/busybox:latest')).toBe('busybox-working-container');
    expect(workingContainerName('localhost:5000/team/app@sha256:abc')).toBe('app-working-container');
    expect(workingContainerName('scratch')).toBe('working-container');
  });

  it('puts -- after the container of wc run, so the command keeps its options', () => {
    expect(separateWorkingRunCommand(['--root', '/r', 'wc', 'run', '-e', 'A=1', '-t', 'ctr', 'sh', '-c', 'x'])).toEqual([
      '--root', '/r', 'wc', 'run', '-e', 'A=1', '-t', 'ctr', '--', 'sh', '-c', 'x',
    ]);
    expect(separateWorkingRunCommand(['wc', 'run', 'ctr', '--', 'ls', '-l'])).toEqual(['wc', 'run', 'ctr', '--', 'ls', '-l']);
  });
});
