/**
 * The device profile and the live sampler. `src/hardware/` describes the device; it never decides
 * (deciding is the tuner's job, DESIGN.md). See docs/hardware.md.
 */
export {
  BOARDS,
  type BoardDescriptor,
  type BoardPowerDefaults,
  type BoardSensors,
  boardDescriptor,
  classifyBoard,
} from './boards.js';
export type { EnergyResult } from './energy.js';
export { probeExecutionProviders } from './execution-providers.js';
export { computeFingerprint, fingerprintInputs, memorySizeClassGiB } from './fingerprint.js';
export {
  COMMANDS,
  type CommandSpec,
  capturedCommands,
  createHost,
  type Exec,
  type Host,
  runCommand,
} from './host.js';
export { type ReadProfileDeps, readProfile } from './profile.js';
export type { LiveSample } from './sample.js';
export {
  DEFAULT_SAMPLER_OPTIONS,
  LiveSampler,
  type LiveSamplerDeps,
  type SamplerEventName,
  type SamplerEvents,
  type SamplerOptions,
} from './sampler.js';
export * from './schema.js';
export { formatProfileSummary } from './summary.js';
