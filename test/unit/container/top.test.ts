import { describe, expect, it } from 'vitest';
import { formatTable, goDuration, parseDescriptors, parseProc, renderTop, ttyName } from '../../../src/container/top.js';

describe('goDuration', () => {
  it('formats like Go time.Duration', () => {
    expect(goDuration(0)).toBe('0s');
    expect(goDuration(13.318305376)).toBe('13.318305376s');
    expect(goDuration(125)).toBe('2m5s');
    expect(goDuration(3603.5)).toBe('1h0m3.5s');
    expect(goDuration(0.25)).toBe('250ms');
  });
});

describe('ttyName', () => {
  it('names pseudo terminals and consoles, ? without one', () => {
    expect(ttyName(0)).toBe('?');
    expect(ttyName((136 << 8) | 3)).toBe('pts/3');
    expect(ttyName((4 << 8) | 1)).toBe('tty1');
  });
});

describe('parseDescriptors', () => {
  it('defaults to podman top columns and accepts names, comma lists and AIX codes', () => {
    expect(parseDescriptors([])).toEqual(['user', 'pid', 'ppid', 'pcpu', 'etime', 'tty', 'time', 'args']);
    expect(parseDescriptors(['pid,comm', 'HPID'])).toEqual(['pid', 'comm', 'hpid']);
    expect(parseDescriptors(['%p', '%U'])).toEqual(['pid', 'user']);
  });
  it('rejects an unknown descriptor', () => {
    expect(() => parseDescriptors(['bogus'])).toThrow('unknown top descriptor "bogus"');
  });
});

describe('parseProc and renderTop', () => {
  const stat = '4242 (sleep (x)) S 4200 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 1000 1331200 100 18446744073709551615';
  const status = 'Name:\tsleep\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nNSpid:\t4242\t7\n';
  it('reads comm with parentheses, the namespaced pid, owner and times', () => {
    const p = parseProc(4242, stat, status, Buffer.from('sleep\u000060\u0000'));
    expect(p).toMatchObject({ pid: 7, hostPpid: 4200, comm: 'sleep (x)', args: ['sleep', '60'], uid: 1000, gid: 100, cpuTicks: 200, startTicks: 1000, ttyNr: 0 });
    const table = renderTop(['user', 'pid', 'pcpu', 'time', 'tty', 'args'], [p], {
      now: 1000 + 10 + 20,
      bootTime: 1000,
      users: new Map([[1000, 'app']]),
      groups: new Map(),
      hostUsers: new Map(),
    });
    // Started 10 s after boot, 20 s ago, 2 s of CPU: 10 %.
    expect(table.rows).toEqual([['app', '7', '10.000', '2s', '?', 'sleep 60']]);
    expect(formatTable(table)).toBe('USER  PID  %CPU    TIME  TTY  COMMAND\napp   7    10.000  2s    ?    sleep 60\n');
  });
});
