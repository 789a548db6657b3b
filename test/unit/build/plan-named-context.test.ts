import { describe, expect, it } from 'vitest';
import { parseContainerfile, planBuild } from '../../../src/containerfile/index.js';
import { namedContextKey } from '../../../src/build/named-context.js';

function plan(text: string, names: string[]) {
  const keys = new Set(names);
  return planBuild(parseContainerfile(text, 'Containerfile'), {
    buildArgs: new Map(),
    namedContext: (ref) => (keys.has(namedContextKey(ref)) ? namedContextKey(ref) : undefined),
  });
}

describe('planning with named build contexts', () => {
  it('turns a FROM image of a context name into the context', () => {
    const p = plan('FROM docker.io/library/base:latest\nRUN true\n', ['base']);
    expect(p.stages[0]!.base).toEqual({ kind: 'context', name: 'base' });
    expect(p.stages[0]!.stage.instructions).toHaveLength(1);
  });

  it('replaces a stage of a context name: no instructions, no dependencies, later stages use it', () => {
    const p = plan('FROM golang AS deps\nCOPY --from=tool /x /x\nRUN build\nFROM deps AS app\nRUN use\nFROM scratch\nCOPY --from=app /x /x\n', ['deps']);
    const [deps, app] = p.stages;
    expect(deps!.base).toEqual({ kind: 'context', name: 'deps' });
    expect(deps!.stage.instructions).toEqual([]);
    expect(deps!.dependsOn).toEqual([]);
    expect(app!.base).toEqual({ kind: 'stage', index: 0 });
  });

  it('leaves names without a context alone', () => {
    const p = plan('FROM alpine AS a\nFROM a\n', ['other']);
    expect(p.stages.map((s) => s.base)).toEqual([{ kind: 'image', ref: 'alpine' }, { kind: 'stage', index: 0 }]);
  });
});
