// A pass-through stream that hashes (sha256) and counts the bytes flowing by, so a blob is hashed in
// the same pass that stores or sends it.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';

export interface HashingStream {
  stream: Transform;
  /** `sha256:<hex>`; valid once the stream has ended. */
  digest(): string;
  size(): number;
}

export function hashingStream(): HashingStream {
  const hash = createHash('sha256');
  let size = 0;
  let digest: string | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return {
    stream,
    digest: () => (digest ??= `sha256:${hash.digest('hex')}`),
    size: () => size,
  };
}

/** `sha256:<hex>` of a file's content, read as a stream. */
export async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
