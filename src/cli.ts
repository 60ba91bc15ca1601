#!/usr/bin/env node
// The `edge-agent` command. Subcommands are in src/cli/; see src/cli/main.ts for the table.
import { main } from './cli/main.js';

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
});
