// The runtime's public surface: spec generation, USER resolution and the runc driver.
export {
  ALL_CAPABILITIES,
  CAPABILITY_NAMES,
  DEFAULT_CAPABILITIES,
  currentLimit,
  generateSpec,
  type ProcessUser,
  type RuntimeSpec,
  type SpecMount,
  type SpecOptions,
} from './spec.js';
export { resolveUser } from './user.js';
export { DEFAULT_PATH, checkExecutable, createRuncRuntime, type ContainerRuntime, type RunIO, type RuncRuntimeOptions } from './runc.js';
