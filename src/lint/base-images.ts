// Base image configs for the checks, from local storage only: a check never pulls. An image that is
// not stored yet is simply unknown (see BaseImageLookup).
import { loadImage } from '../image/image.js';
import type { Stores } from '../store/root.js';
import type { BaseImageLookup } from './stage-rules.js';

export function localBaseImages(stores: Stores): BaseImageLookup {
  return async (ref) => {
    try {
      const record = await stores.images.find(ref);
      if (!record) return undefined;
      const { config } = await loadImage(stores, record);
      return {
        env: config.config.Env ?? [],
        ...(config.config.Shell && { shell: config.config.Shell }),
        os: config.os,
        architecture: config.architecture,
        ...(config.variant && { variant: config.variant }),
      };
    } catch {
      // A damaged record is the build's problem to report; the checks just know less.
      return undefined;
    }
  };
}
