import * as z from '../zod.js';
import { manifestSchemas } from './manifest.js';

/** JSON Schema of `models/<name>/manifest.json`, for editors (models/manifest.schema.json). */
export function manifestJsonSchemaText(): string {
  const schema = z.toJSONSchema(manifestSchemas().manifestSchema, { io: 'input', target: 'draft-2020-12' });
  return `${JSON.stringify({ ...schema, title: 'edge-agent model manifest', $id: 'manifest.schema.json' }, null, 2)}\n`;
}
