// Image archives: save local images as oci-archive or docker-archive tars, and load them back.
export { saveImages, SAVE_GZIP_LEVEL, type ArchiveFormat, type SaveOptions } from './save.js';
export { loadArchive, type LoadOptions } from './load.js';
export { storeImage } from './store-image.js';
export { loadOciDir, writeOciDir } from './oci-dir.js';
