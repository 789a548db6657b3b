// Temp trees for the build-context tests: a context directory described as a map of files.
import { chmod, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export type TreeSpec = Record<string, string | { content?: string; mode?: number; symlink?: string; dir?: true }>;

/** A fixed, old mtime: old enough that the digest memo never treats files as "racily" modified. */
export const OLD_TIME = new Date('2020-01-02T03:04:05Z');

export class TempDirs {
  private readonly dirs: string[] = [];

  async make(prefix = 'ctx'): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), `tsbuild-${prefix}-`));
    this.dirs.push(dir);
    return dir;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

export async function writeTree(root: string, spec: TreeSpec): Promise<void> {
  for (const [rel, value] of Object.entries(spec)) {
    const abs = path.join(root, rel);
    await mkdir(path.dirname(abs), { recursive: true });
    const v = typeof value === 'string' ? { content: value } : value;
    if (v.symlink !== undefined) {
      await symlink(v.symlink, abs);
      continue;
    }
    if (v.dir) await mkdir(abs, { recursive: true });
    else await writeFile(abs, v.content ?? '');
    if (v.mode !== undefined) await chmod(abs, v.mode);
    await utimes(abs, OLD_TIME, OLD_TIME);
  }
}
