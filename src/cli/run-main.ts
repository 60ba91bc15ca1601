import type { CommandContext } from './command.js';
import { invoke } from './invoke.js';

/**
 * `edge-agent run`, what a device starts at every boot, without importing every other subcommand
 * (derive, fidelity, fleet, ...): only run.ts's own modules load (cold start, docs/memory.md).
 * Anything else, `--help` included, goes through the full table in main.ts.
 */
export async function main(argv: string[], ctx: Omit<CommandContext, 'argv'>): Promise<number> {
  const [name, ...rest] = argv;
  if (name !== 'run' || rest.includes('--help') || rest.includes('-h')) {
    return (await import('./main.js')).main(argv, ctx);
  }
  const { runCommand } = await import('./run.js');
  return invoke(runCommand, name, rest, ctx);
}
