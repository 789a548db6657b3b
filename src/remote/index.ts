// The registry side of tsbuild as the CLI and the builder use it: pull and push (registries and the
// oci:/oci-archive:/docker-archive: locations), pull policies, login/logout, and progress output.
export { pullImage, type PullOptions } from './pull.js';
export { pushImage, type PushOptions } from './push.js';
export { resolveImage, parsePullPolicy, PULL_POLICIES, type PullPolicy, type ResolveOptions } from './policy.js';
export { login, logout, registryKey, type LoginOptions } from './login.js';
export { createProgress, silentProgress, type ProgressSink } from './progress.js';
export { parseLocation, formatLocation, type Location } from './transports.js';
export { createBlobInfoCache, type BlobInfoCache, type BlobVariant } from './blob-info.js';
export { DEFAULT_GZIP_LEVEL, DEFAULT_ZSTD_LEVEL, type Compression } from './compression.js';
export type { RegistryFlags } from './connect.js';
