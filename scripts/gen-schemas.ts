// Writes the JSON Schemas generated from the zod schemas: agent.config.schema.json (config) and
// models/manifest.schema.json (model manifests), and docs/config.md (the config reference). Tests fail when a committed file is stale.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configJsonSchemaText } from '../src/config/json-schema.js';
import { configReferenceMarkdown } from '../src/config/reference.js';
import { manifestJsonSchemaText } from '../src/models/json-schema.js';
import { packageRoot } from '../src/paths.js';

const root = packageRoot();
for (const [file, text] of [
  ['agent.config.schema.json', configJsonSchemaText()],
  ['models/manifest.schema.json', manifestJsonSchemaText()],
  ['docs/config.md', configReferenceMarkdown()],
] as const) {
  writeFileSync(path.join(root, file), text);
  console.log(`wrote ${file}`);
}
