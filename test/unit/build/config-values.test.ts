import { describe, expect, it } from 'vitest';
import { exposedPorts, isValidSignal } from '../../../src/build/steps/config-values.js';

describe('exposedPorts (BuildKit parsePortSpecs)', () => {
  it('defaults to tcp and lower-cases the protocol', () => {
    expect(exposedPorts('80')).toEqual(['80/tcp']);
    expect(exposedPorts('53/UDP')).toEqual(['53/udp']);
    expect(exposedPorts('132/sctp')).toEqual(['132/sctp']);
  });

  it('turns a range into one port each', () => {
    expect(exposedPorts('8000-8002/udp')).toEqual(['8000/udp', '8001/udp', '8002/udp']);
  });

  it('keeps only the container port of ip:host:container forms', () => {
    expect(exposedPorts('127.0.0.1:9000:9001')).toEqual(['9001/tcp']);
    expect(exposedPorts('[::1]:80:81/udp')).toEqual(['81/udp']);
    expect(exposedPorts('7000-7001:8000-8001')).toEqual(['8000/tcp', '8001/tcp']);
  });

  it('rejects what BuildKit rejects, with its wording', () => {
    expect(() => exposedPorts('80/icmp')).toThrow('invalid proto: icmp');
    expect(() => exposedPorts('/tcp')).toThrow('no port specified: /tcp<empty>');
    expect(() => exposedPorts('90-80')).toThrow('invalid containerPort: 90-80');
    expect(() => exposedPorts('70000')).toThrow('invalid containerPort: 70000');
    expect(() => exposedPorts('x:80')).toThrow('invalid hostPort: x');
    expect(() => exposedPorts('1-3:80-81')).toThrow('invalid ranges specified for container and host Ports: 80-81 and 1-3');
    expect(() => exposedPorts('nope:1:80')).toThrow('invalid IP address: nope');
  });
});

describe('isValidSignal (moby signal.ParseSignal)', () => {
  it('accepts names with or without SIG in any case, real-time signals and non-zero numbers', () => {
    for (const s of ['SIGTERM', 'term', 'SigKill', 'RTMIN+3', 'SIGRTMAX-2', '9', '15']) expect(isValidSignal(s), s).toBe(true);
  });

  it('rejects unknown names and 0', () => {
    for (const s of ['SIGNOPE', '0', '', 'RTMIN+16', 'TERM9']) expect(isValidSignal(s), s).toBe(false);
  });
});
