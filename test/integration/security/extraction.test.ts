// Extraction safety, proven on a crafted corpus (corpus.ts): every hostile layer tar is applied in
// overlay and plain whiteout modes, and the OCI/docker archives and local ADD archives built from
// them go through `tsbuild load` and a real `bud`. Each input runs inside a canary tree (canary.ts)
// that must be exactly as it was afterwards; the input gives a one-line TsbuildError naming the
// entry, or the documented safe tree.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyTar } from '../../../src/archive/index.js';
import { isTsbuildError } from '../../../src/errors.js';
import { streamOf } from '../../unit/helpers-archive.js';
import { createCanary, type Canary } from './canary.js';
import { CORPUS, type Mode } from './corpus.js';

const WHAT = 'layer sha256:c0ffee';

describe(`layer extraction of ${CORPUS.length} crafted tars (applyTar, overlay and plain whiteout modes)`, () => {
  let canary: Canary;
  beforeEach(() => {
    canary = createCanary(mkdtempSync(path.join(os.tmpdir(), 'tsbuild-esc-')));
  });
  afterEach(() => {
    try {
      canary.check();
    } finally {
      rmSync(canary.base, { recursive: true, force: true });
    }
  });

  for (const c of CORPUS) {
    for (const mode of c.modes ?? (['overlay', 'none'] as Mode[])) {
      it(`#${c.id} ${c.title} [${mode}]`, async () => {
        const input = await c.tar(canary.base);
        const expected = typeof c.error === 'function' ? c.error(mode) : c.error;
        const outcome = await applyTar(streamOf(input), canary.root, { whiteouts: mode, what: WHAT }).then(
          () => undefined,
          (err: unknown) => err,
        );
        if (expected) {
          expect(isTsbuildError(outcome), `expected a TsbuildError, got ${String(outcome)}`).toBe(true);
          const err = outcome as Error & { code: string };
          expect(err.code).toBe(expected.code);
          expect(err.message).toMatch(expected.message);
          expect(err.message.startsWith(WHAT)).toBe(true);
          expect(err.message).not.toMatch(/[\n\r]/);
          expect(err.message.length).toBeLessThan(600);
        } else {
          if (outcome !== undefined) throw outcome;
          c.tree!(canary.root, mode, canary.base);
        }
      });
    }
  }
});
