// What one build shares between its driver (builder.ts) and the instruction steps: options, the
// stores and runtime, the cache, the build context's rules, finished stages, and step output.
import type { FileDigestMemo, IgnoreRules } from './context/index.js';
import type { ImageRecord } from '../image/store.js';
import type { ImageFormat } from '../oci/types.js';
import type { PullPolicy } from '../remote/policy.js';
import type { RegistryFlags } from '../remote/connect.js';
import type { Progress } from '../remote/types.js';
import type { ContainerRuntime } from '../runtime/index.js';
import type { Stores } from '../store/root.js';
import type { BuildCache } from './cache.js';
import type { NamedContext } from './named-context.js';
import type { RunFlags } from './run-mounts/bud-flags.js';
import type { StageState } from './stage-state.js';
import type { OutputTarget } from './output.js';

/**
 * The network of RUN steps: the host's, none (a namespace with only loopback), or, as buildah's
 * `private`, a namespace of each RUN's own attached to a tsbuild network (bud --network
 * private|bridge|NAME), set up and torn down around the RUN by the container manager's network code.
 */
export type BuildNetwork = 'host' | 'none' | { network: string };

export interface BuildOptions {
  /** Containerfile text and the name used in messages. */
  containerfile: { text: string; file: string };
  contextDir: string;
  tags: string[];
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  format: ImageFormat;
  /** Use and fill the build cache (podman's --layers; --no-cache turns it off). */
  layers: boolean;
  /** RUN steps' network (bud --network); RUN --network=default means this one. */
  network: BuildNetwork;
  labels: Record<string, string>;
  ignorefile?: string;
  /** Step lines and RUN output; RUN's stderr goes to `stderr`. */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  quiet: boolean;
  signal?: AbortSignal;
  /** bud's flags for RUN containers (--volume, --cap-add, --secret, --ssh, ...); default: none. */
  runFlags?: RunFlags;
  /** How FROM and COPY --from images are found (default: local, else pulled) and the registry flags for pulls. */
  pull?: { policy: PullPolicy; flags?: RegistryFlags; progress?: Progress };
  /** Reproducible builds (--timestamp, SOURCE_DATE_EPOCH): created dates and new layers' mtimes, in seconds. */
  timestamp?: number;
  /** Manifest annotations (OCI format only). */
  annotations?: Record<string, string>;
  /** 'new': the final stage's new layers as one; 'all': the whole image as one layer. */
  squash?: 'new' | 'all';
  /** Final config edits: ENV added or overridden, then ENV names and labels removed. */
  env?: Record<string, string>;
  unsetEnv?: string[];
  unsetLabels?: string[];
  /** --platform, checked against the host: the TARGET* args take its values. */
  platform?: string;
  /** Stages run at once at most (default: no limit). */
  jobs?: number;
  /** Registry repositories to look cache keys up in / push cached steps to (--cache-from, --cache-to); registry flags as for pulls. */
  cacheFrom?: string[];
  cacheTo?: string[];
  /** Cache entries older than this are not used (--cache-ttl; 0 is --no-cache). */
  cacheTtlMs?: number;
  /** Where the final stage's root filesystem goes as well (--output). */
  output?: OutputTarget;
  /** --build-context: named contexts by key (see named-context.ts), replacing stages and images of that name. */
  buildContexts?: ReadonlyMap<string, NamedContext>;
  /** --skip-unused-stages=false: every stage up to the target is built. */
  allStages?: boolean;
  /** --stdin: RUN steps read tsbuild's standard input. */
  stdin?: boolean;
  /** --omit-history: the image config gets no history. */
  omitHistory?: boolean;
  /** --no-cache-filter: stages (names or indexes) that use no cached step. */
  noCacheFilter?: string[];
}

export interface BuildResult {
  image: ImageRecord;
}

export interface BuildSession {
  stores: Stores;
  runtime: ContainerRuntime;
  options: BuildOptions;
  cache: BuildCache | undefined;
  ignore: IgnoreRules;
  memo: FileDigestMemo;
  stageResults: Map<number, StageState>;
  /** The Containerfile's escape character (`# escape=`), for variable expansion. */
  escapeChar: string;
  /** Stage names (lower-case) to indexes, for COPY --from. */
  stageNames: Map<string, number>;
  consumedArgs: Set<string>;
  globalArgs: Map<string, string | undefined>;
  /** Automatic ARG values (platform args, TARGETSTAGE): usable once declared. */
  builtinArgs: ReadonlyMap<string, string>;
  step: number;
  totalSteps: number;
  stageCount: number;
  /** Pulls in flight or done, by the name the Containerfile used. */
  pulls: Map<string, Promise<ImageRecord>>;
  log(line: string): void;
}
