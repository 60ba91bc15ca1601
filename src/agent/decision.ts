import type { AgentConfig } from '../config/index.js';
import type { PipelineStats } from '../pipeline/types.js';

/** Why the active variant is active when no decision has been recorded: the configuration. */
export function configDecision(config: AgentConfig, stats: PipelineStats) {
  return {
    model: stats.model.name,
    variant: stats.model.variant,
    source: 'config',
    reason: config.models.variant
      ? `configured: models.default = ${config.models.default}, models.variant = ${config.models.variant}`
      : `configured: models.default = ${config.models.default}, the manifest's default variant`,
    executionProvider: stats.model.executionProvider,
  };
}
