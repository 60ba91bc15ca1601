import { EdgeAgentError } from '../errors.js';
import type { Command, CommandContext } from './command.js';

/** Runs one subcommand: typed errors become their exit code and one line on stderr. */
export async function invoke(
  command: Command,
  name: string,
  rest: string[],
  ctx: Omit<CommandContext, 'argv'>,
): Promise<number> {
  try {
    return await command.run({ ...ctx, argv: rest });
  } catch (err) {
    if (err instanceof EdgeAgentError) {
      // Messages may already name the command ("infer: expected one IMAGE"): say it once.
      ctx.stderr.write(
        `edge-agent ${name}: ${err.message.replace(`${name}: `, (m, at) => (at === 0 ? '' : m))}\n`,
      );
      return err.exitCode;
    }
    // Not one of ours: a bug. One line by default, the stack when asked for.
    const message = err instanceof Error ? err.message : String(err);
    ctx.stderr.write(`edge-agent ${name}: internal error: ${message}\n`);
    if (ctx.env.EDGE_AGENT_DEBUG && err instanceof Error && err.stack) ctx.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
