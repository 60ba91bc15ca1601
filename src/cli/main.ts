import { camerasCommand } from './cameras.js';
import type { Command, CommandContext } from './command.js';
import { configCommand } from './config.js';
import { deriveCommand } from './derive.js';
import { doctorCommand } from './doctor.js';
import { fidelityCommand } from './fidelity.js';
import { fleetCommand } from './fleet.js';
import { commandHelp } from './help.js';
import { inferCommand } from './infer.js';
import { invoke } from './invoke.js';
import { keysCommand, signCommand } from './keys.js';
import { modelsCommand } from './models.js';
import { planCommand } from './plan.js';
import { profileCommand } from './profile.js';
import { runCommand } from './run.js';
import { tuneCommand } from './tune.js';

/** The subcommands of `edge-agent`; each lives in src/cli/<name>.ts. */
export const COMMANDS: readonly Command[] = [
  runCommand,
  inferCommand,
  modelsCommand,
  camerasCommand,
  configCommand,
  profileCommand,
  deriveCommand,
  fidelityCommand,
  tuneCommand,
  planCommand,
  fleetCommand,
  doctorCommand,
  keysCommand,
  signCommand,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: edge-agent <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run `edge-agent help <command>` (or `edge-agent <command> --help`) for a command's options and examples.",
  ].join('\n');
}

export async function main(argv: string[], ctx: Omit<CommandContext, 'argv'>): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest.length > 0) {
    const command = COMMANDS.find((c) => c.name === rest[0]);
    if (!command || rest.length > 1) {
      ctx.stderr.write(`edge-agent help: unknown command "${rest.join(' ')}"\n${help()}\n`);
      return 2;
    }
    ctx.stdout.write(commandHelp(command));
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    ctx.stdout.write(`${help()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === 'version') {
    const { readFileSync } = await import('node:fs');
    const { packageRoot } = await import('../paths.js');
    const pkg = JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')) as { version: string };
    ctx.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    ctx.stderr.write(`edge-agent: unknown command "${name}"\n${help()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.stdout.write(commandHelp(command));
    return 0;
  }
  return invoke(command, name, rest, ctx);
}
