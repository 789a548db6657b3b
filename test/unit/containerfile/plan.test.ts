import { describe, expect, it } from 'vitest';
import { TsbuildError } from '../../../src/errors.js';
import { parseContainerfile, planBuild, type BuildPlan } from '../../../src/containerfile/index.js';

const FILE = 'Containerfile';

function plan(text: string, opts: { target?: string; buildArgs?: Record<string, string>; builtinArgs?: Record<string, string> } = {}): BuildPlan {
  return planBuild(parseContainerfile(text, FILE), {
    ...(opts.target !== undefined && { target: opts.target }),
    buildArgs: new Map(Object.entries(opts.buildArgs ?? {})),
    ...(opts.builtinArgs && { builtinArgs: new Map(Object.entries(opts.builtinArgs)) }),
  });
}

const MULTI = `
FROM golang:1.22 AS build
RUN go build -o /app .

FROM alpine:3 AS test
COPY --from=build /app /app
RUN /app -test

FROM build AS debug
RUN echo debug

FROM scratch
COPY --from=build /app /app
COPY --from=busybox:musl /bin/busybox /bin/sh
`;

describe('planBuild', () => {
  it('targets the last stage by default and drops stages it does not need', () => {
    const p = plan(MULTI);
    expect(p.file).toBe(FILE);
    expect(p.target).toBe(3);
    expect(p.stages.map((s) => s.stage.index)).toEqual([0, 3]);
  });

  it('resolves FROM of an external image, a previous stage and scratch', () => {
    const p = plan(MULTI, { target: 'debug' });
    expect(p.stages.map((s) => [s.stage.index, s.base])).toEqual([
      [0, { kind: 'image', ref: 'golang:1.22' }],
      [2, { kind: 'stage', index: 0 }],
    ]);
    expect(p.stages[1]?.dependsOn).toEqual([0]);
    expect(plan(MULTI).stages[1]?.base).toEqual({ kind: 'scratch' });
  });

  it('selects the target stage by name, case-insensitively, with its dependencies first', () => {
    const p = plan(MULTI, { target: 'TEST' });
    expect(p.target).toBe(1);
    expect(p.stages.map((s) => s.stage.name)).toEqual(['build', 'test']);
    expect(p.stages[1]?.dependsOn).toEqual([0]);
  });

  it('resolves COPY --from by stage name and records external images separately', () => {
    const last = plan(MULTI).stages.find((s) => s.stage.index === 3);
    expect(last?.dependsOn).toEqual([0]);
    expect(last?.externalImages).toEqual(['busybox:musl']);
  });

  it('resolves COPY --from by stage index', () => {
    const p = plan('FROM alpine\nRUN touch /a\nFROM alpine\nRUN true\nFROM scratch\nCOPY --from=0 /a /a\n');
    expect(p.stages.map((s) => s.stage.index)).toEqual([0, 2]);
    expect(p.stages[1]?.dependsOn).toEqual([0]);
  });

  it('follows transitive dependencies and lists each stage once', () => {
    const p = plan('FROM alpine AS a\nFROM a AS b\nFROM alpine AS c\nCOPY --from=a / /\nCOPY --from=b / /\nFROM c\nCOPY --from=a / /\n');
    expect(p.stages.map((s) => s.stage.index)).toEqual([0, 1, 2, 3]);
    expect(p.stages[2]?.dependsOn).toEqual([0, 1]);
    expect(p.stages[3]?.dependsOn).toEqual([0, 2]);
  });

  it('treats FROM <name of a later stage> as an image, as BuildKit does', () => {
    const p = plan('FROM later AS first\nFROM alpine AS later\n', { target: 'first' });
    expect(p.stages).toHaveLength(1);
    expect(p.stages[0]?.base).toEqual({ kind: 'image', ref: 'later' });
  });

  it('resolves COPY --from=<later stage> by name or index and builds that stage first', () => {
    const p = plan('FROM alpine AS app\nCOPY --from=tools /t /t\nCOPY --from=2 /u /u\nFROM alpine AS tools\nFROM alpine AS more\n', { target: 'app' });
    expect(p.stages.map((s) => s.stage.index)).toEqual([1, 2, 0]);
    expect(p.stages[2]?.dependsOn).toEqual([1, 2]);
    expect(p.stages[2]?.externalImages).toEqual([]);
  });

  it('rejects a stage that copies from itself, naming the stage as BuildKit does', () => {
    expect(() => plan('FROM alpine AS stage0\nCOPY --from=stage0 f1 /sub/\n')).toThrow('Containerfile:2:6: circular dependency detected on stage: stage0');
    expect(() => plan('FROM alpine\nCOPY --from=0 f1 /sub/\n')).toThrow('Containerfile:2:6: circular dependency detected on stage: stage-0');
  });

  it('rejects a cycle through several stages at the COPY --from that closes it', () => {
    const text = 'FROM a AS stage0\nCOPY --from=stage2 f1 /sub/\nFROM a AS stage1\nCOPY --from=stage0 f2 /sub/\nFROM a AS stage2\nCOPY --from=stage1 f2 /sub/\n';
    expect(() => plan(text)).toThrow('Containerfile:4:6: circular dependency detected on stage: stage0');
    expect(() => plan(text)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', source: expect.objectContaining({ excerpt: 'COPY --from=stage0 f2 /sub/' }) }));
  });

  it('rejects a cycle made of a COPY --from a later stage and the FROM of that stage', () => {
    expect(() => plan('FROM alpine AS a\nCOPY --from=b /x /x\nFROM a AS b\n')).toThrow('Containerfile:3:1: circular dependency detected on stage: a');
  });

  it('rejects COPY --from with a stage index the file does not have', () => {
    expect(() => plan('FROM alpine\nFROM alpine\nCOPY --from=2 /a /a\n')).toThrow('Containerfile:3:6: --from=2: there is no stage 2 (stages are numbered 0 to 1)');
  });

  it('uses global ARG defaults in FROM', () => {
    const p = plan('ARG BASE=alpine\nARG TAG=3.19\nARG IMAGE=${BASE}:${TAG}\nFROM $IMAGE\n');
    expect(p.stages[0]?.base).toEqual({ kind: 'image', ref: 'alpine:3.19' });
    expect(p.globalArgs).toEqual(new Map([['BASE', 'alpine'], ['TAG', '3.19'], ['IMAGE', 'alpine:3.19']]));
  });

  it('lets --build-arg override a global ARG used in FROM', () => {
    const p = plan('ARG TAG=3.19\nARG UNSET\nFROM alpine:${TAG}\n', { buildArgs: { TAG: 'edge', OTHER: 'x' } });
    expect(p.stages[0]?.base).toEqual({ kind: 'image', ref: 'alpine:edge' });
    expect(p.globalArgs).toEqual(new Map([['TAG', 'edge'], ['UNSET', undefined]]));
  });

  it('does not use a --build-arg in FROM unless it is declared as a global ARG', () => {
    expect(plan('FROM alpine:${TAG:-latest}\n', { buildArgs: { TAG: 'edge' } }).stages[0]?.base).toEqual({ kind: 'image', ref: 'alpine:latest' });
  });

  it('resolves a stage reference that comes from a global ARG', () => {
    const p = plan('ARG VARIANT=build\nFROM alpine AS build\nFROM ${VARIANT}\n');
    expect(p.stages[1]?.base).toEqual({ kind: 'stage', index: 0 });
  });

  it('expands FROM --platform and COPY --from with global and builtin ARGs', () => {
    const p = plan('ARG SRC=busybox\nFROM --platform=$BUILDPLATFORM alpine\nCOPY --from=${SRC} /bin/sh /sh\n', {
      builtinArgs: { BUILDPLATFORM: 'linux/amd64' },
    });
    expect(p.stages[0]?.platform).toBe('linux/amd64');
    expect(p.stages[0]?.externalImages).toEqual(['busybox']);
  });

  it('fails when FROM expands to nothing', () => {
    expect(() => plan('ARG BASE\nFROM $BASE\n')).toThrow('Containerfile:2:1: base name ($BASE) should not be blank');
  });

  it('fails for an unknown target, naming the file', () => {
    let caught: unknown;
    try {
      plan(MULTI, { target: 'release' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TsbuildError);
    expect(caught).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'Containerfile: target stage "release" not found' });
    expect((caught as TsbuildError).hint).toContain('build, test, debug');
  });
});
