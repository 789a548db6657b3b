// What a rebuild needs to revalidate an ADD <url> (without --checksum) instead of downloading it
// again: the ETag / Last-Modified the server gave, and the content checksum the copy step took of
// that download. One small JSON record per URL under <root>/cache/http/, named by a hash of the URL
// (so credentials in it are never written down). It is only a cache: a lost or broken record means
// one full download.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { readJson, writeJsonAtomic } from '../../util/fs.js';

export interface HttpValidators {
  etag?: string;
  lastModified?: string;
}

export interface RememberedDownload extends HttpValidators {
  /** The copy step's checksum of what was downloaded: the cache key's part for this source. */
  checksum: string;
}

const recordFile = (cacheDir: string, url: string): string =>
  path.join(cacheDir, 'http', `${createHash('sha256').update(url).digest('hex')}.json`);

export async function recallDownload(cacheDir: string, url: string): Promise<RememberedDownload | undefined> {
  const record = await readJson<Partial<RememberedDownload>>(recordFile(cacheDir, url)).catch(() => undefined);
  if (typeof record?.checksum !== 'string' || (typeof record.etag !== 'string' && typeof record.lastModified !== 'string')) return undefined;
  return record as RememberedDownload;
}

export async function rememberDownload(cacheDir: string, url: string, record: RememberedDownload): Promise<void> {
  const file = recordFile(cacheDir, url);
  await mkdir(path.dirname(file), { recursive: true });
  await writeJsonAtomic(file, record);
}
