import * as z from '../zod.js';
import { configSchema } from './schema.js';

export type JsonSchemaNode = {
  type?: string | string[];
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  enum?: unknown[];
  anyOf?: JsonSchemaNode[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  minItems?: number;
  pattern?: string;
  description?: string;
  [key: string]: unknown;
};

/** The JSON Schema of agent.config.json, as written to agent.config.schema.json. */
export function configJsonSchema(): JsonSchemaNode {
  const schema = z.toJSONSchema(configSchema(), { io: 'input', target: 'draft-2020-12' }) as JsonSchemaNode;
  return { ...schema, title: 'edge-agent configuration', $id: 'agent.config.schema.json' };
}

export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
