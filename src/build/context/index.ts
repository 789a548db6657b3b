// The build-context module: which files COPY/ADD read (ignore rules, source selection), what they
// hash to (cache keys, memoised file digests) and how they land in a new layer.
export { loadIgnoreRules, parseIgnoreFile, compileIgnoreRules, type IgnoreRules, type LoadIgnoreOptions } from './ignore-rules.js';
export { selectSources, type SelectOptions, type SourceRoot, type SelectedEntry } from './select.js';
export {
  checksumSelection,
  openFileDigestMemo,
  type FileDigestMemo,
  type DestLayout,
  type ChecksumStats,
} from './checksum.js';
export { copySelection, destIsDirectory, type CopyOptions, type DirMetadata } from './copy.js';
export { detectArchive, type ArchiveFormat } from './add-archive.js';
export { hasWildcard } from './patterns.js';
export { parseChmod, type ChmodSpec } from './chmod.js';
