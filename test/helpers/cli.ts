import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './paths.js';

/** tsx's ESM loader by absolute path, so children can run from any working directory. */
export const TSX_LOADER = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `edge-agent ARGS` as a real process (node + tsx loader, no extra wrapper process). */
export function runCli(
  args: string[],
  options: {
    env?: Record<string, string>;
    /** `env` is the whole environment (not added to this process's). */
    replaceEnv?: boolean;
    cwd?: string;
    timeoutMs?: number;
  } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(REPO, 'src/cli.ts'), ...args], {
      cwd: options.cwd ?? REPO,
      env: options.replaceEnv ? options.env : { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
