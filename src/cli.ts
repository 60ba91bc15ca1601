#!/usr/bin/env node
// The `edge-agent` command. Subcommands are in src/cli/; see src/cli/main.ts for the table.
import { disableOnnxruntimeTelemetry } from './inference/telemetry-off.js';
import { reexecWithMemoryEnv } from './service/memory-env.js';

disableOnnxruntimeTelemetry();

// `run` takes a shorter path that loads only its own modules (src/cli/run-main.ts), under the
// agent's malloc settings (src/service/memory-env.ts).
if (process.argv[2] === 'run') reexecWithMemoryEnv();
const { main } =
  process.argv[2] === 'run' ? await import('./cli/run-main.js') : await import('./cli/main.js');

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
});
