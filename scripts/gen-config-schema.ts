// Writes agent.config.schema.json from the zod schema (src/config/schema.ts).
// test/unit/config/json-schema.test.ts fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configJsonSchemaText } from '../src/config/json-schema.js';
import { packageRoot } from '../src/paths.js';

const target = path.join(packageRoot(), 'agent.config.schema.json');
writeFileSync(target, configJsonSchemaText());
console.log(`wrote ${target}`);
