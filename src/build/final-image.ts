// The last step of a build: the target stage's state becomes the image. The build flags that act on
// the result alone apply here: --label, --env, --unsetenv, --unsetlabel, --squash/--squash-all,
// --timestamp/SOURCE_DATE_EPOCH (dates and layer mtimes) and --annotation.
import { commitImage, type LayerRef } from '../image/image.js';
import { createBuildCache } from './cache.js';
import type { ImageRecord } from '../image/store.js';
import type { ImageConfig } from '../oci/types.js';
import type { BuildOptions, BuildSession } from './session.js';
import { clampLayers, squashAll, squashNew } from './squash.js';
import { cloneConfig, setEnv, type StageState } from './stage-state.js';

/** The image, and its layers as committed (squashed or clamped), which --output exports. */
export async function commitFinalImage(session: BuildSession, final: StageState): Promise<{ image: ImageRecord; layers: LayerRef[] }> {
  const { options, stores } = session;
  const config = cloneConfig(final.config);
  editConfig(config, options);

  const epoch = options.timestamp;
  const base = final.layers.slice(0, final.baseLayerCount ?? 0);
  const added = final.layers.slice(base.length);
  // Made layers are remembered locally only: they derive from layers the step cache (and its
  // registry side, which is closed by now) already covers.
  const cache = session.cache ? createBuildCache({ layout: stores.layout, content: stores.content }) : undefined;
  const making = { stores, cache, epoch };
  let layers: LayerRef[];
  if (options.squash === 'all') layers = await squashAll(making, final.layers);
  else if (options.squash === 'new') layers = await squashNew(making, base, added);
  else if (epoch !== undefined) layers = await clampLayers(making, base, added);
  else layers = final.layers;
  if (options.squash) keepLastLayerEntry(config, options.squash === 'all' ? 0 : (final.baseHistoryCount ?? 0));

  config.rootfs = { type: 'layers', diff_ids: layers.map((l) => l.diffId) };
  config.created = final.created;
  if (epoch !== undefined) {
    // RFC 3339 in whole seconds, as buildah and BuildKit write it (Go's time.Time of a Unix second).
    const date = new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
    config.created = date;
    // The base image's history keeps its dates: only what this build added is dated by the epoch.
    config.history = (config.history ?? []).map((h, i) => (i >= (final.baseHistoryCount ?? 0) ? { ...h, created: date } : h));
  }
  if (options.omitHistory) delete config.history;
  let annotations = options.annotations;
  if (annotations && Object.keys(annotations).length > 0 && options.format === 'docker') {
    options.stderr.write('[Warning] annotations are not supported by the docker image format: --annotation ignored\n');
    annotations = undefined;
  }
  const image = await commitImage(stores, { config, layers }, { format: options.format, names: options.tags, annotations });
  return { image, layers };
}

/** --label, then --env, then the removals, which also remove what the base image brought. */
function editConfig(config: ImageConfig, options: BuildOptions): void {
  const c = config.config;
  if (Object.keys(options.labels).length > 0) c.Labels = { ...c.Labels, ...options.labels };
  for (const [key, value] of Object.entries(options.env ?? {})) setEnv(config, key, value);
  if (options.unsetEnv?.length) {
    const doomed = new Set(options.unsetEnv);
    c.Env = (c.Env ?? []).filter((e) => !doomed.has(e.includes('=') ? e.slice(0, e.indexOf('=')) : e));
  }
  if (options.unsetLabels?.length && c.Labels) {
    for (const key of options.unsetLabels) delete c.Labels[key];
  }
}

/**
 * After squashing, the history's layer entries must match the one new layer: the last entry this
 * build added that had a layer keeps it, the other added ones become empty_layer entries.
 */
function keepLastLayerEntry(config: ImageConfig, from: number): void {
  const history = config.history ?? [];
  let last = -1;
  history.forEach((h, i) => {
    if (i >= from && !h.empty_layer) last = i;
  });
  config.history = history.map((h, i) => (i >= from && i !== last && !h.empty_layer ? { ...h, empty_layer: true } : h));
}
