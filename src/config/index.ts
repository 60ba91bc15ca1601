export { configJsonSchema, configJsonSchemaText } from './json-schema.js';
export {
  applyEnvOverrides,
  ENV_OVERRIDES,
  type LoadedConfig,
  loadConfig,
  parseConfig,
  resolveFrom,
} from './load.js';
export { type AgentConfig, type AgentConfigInput, configSchema } from './schema.js';
