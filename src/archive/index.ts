// The archive module: OCI layer tars from directories (writeLayerTar) and safe extraction of tars
// into directories (applyTar), with whiteouts, owners, modes and xattrs.
export { writeLayerTar, type LayerDigest, type WriteLayerOptions } from './write-layer.js';
export { applyTar, type ApplyOptions, type ApplyResult } from './apply-layer.js';
export { headerChecksumMatches } from './tar-format.js';
