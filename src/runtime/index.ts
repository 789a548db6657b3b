// The runtime's public surface: spec generation (with its seccomp and --security-opt parts), USER
// resolution and the runc driver.
export {
  ALL_CAPABILITIES,
  CAPABILITY_NAMES,
  DEFAULT_CAPABILITIES,
  currentLimit,
  deviceNumbers,
  generateSpec,
  capabilitySet,
  INIT_BINARY,
  INIT_PATH,
  type ProcessUser,
  type RuntimeSpec,
  type SpecMount,
  type SpecOptions,
} from './spec.js';
export { resolveGroups, resolveUser } from './user.js';
export { applyResources, type ContainerResources } from './resources.js';
export { parseSecurityOpts, SECURITY_OPT_HELP, type SecurityOptions } from './security-opt.js';
export { buildSeccomp, loadSeccompProfile, parseSeccompProfile, type LinuxSeccomp } from './seccomp.js';
export { DEFAULT_PROFILE, type SeccompProfile } from './seccomp-profile.js';
export { DEFAULT_PATH, checkExecutable, createRuncRuntime, type ContainerRuntime, type RunIO, type RuncRuntimeOptions } from './runc.js';
