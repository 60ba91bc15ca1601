import { type ChildProcess, fork } from 'node:child_process';
import { childEntry } from '../child-entry.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ProbeAnswer, ProbeRequest } from './provider-probe-child.js';

export interface ChildProbeOptions {
  log?: Logger;
  /** The child is killed after this long (a hung driver); its providers count as rejected. */
  timeoutMs?: number;
}

/**
 * Tries execution providers in a child process (provider-probe-child.ts) and returns, per
 * provider, undefined when it works or the reason it does not. What native code printed there is
 * logged at debug level, never copied to our stdout/stderr. Never rejects: a child that cannot
 * start, crashes or hangs rejects every provider it did not answer for, with the reason.
 */
export function probeInChildProcess(
  providers: readonly string[],
  options: ChildProbeOptions = {},
): Promise<Map<string, string | undefined>> {
  const results = new Map<string, string | undefined>();
  if (providers.length === 0) return Promise.resolve(results);
  const rejectAll = (reason: string) => {
    for (const p of providers) if (!results.has(p)) results.set(p, reason);
    return results;
  };
  const { script, execArgv } = childEntry(import.meta.url, 'provider-probe-child');
  let child: ChildProcess;
  try {
    child = fork(script, [], { execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  } catch (err) {
    return Promise.resolve(rejectAll(`cannot start the probe process: ${errorMessage(err)}`));
  }
  let output = '';
  const collect = (d: Buffer) => {
    output = (output + d.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('message', (answer: ProbeAnswer) => {
      for (const { provider, error } of answer) results.set(provider, error);
    });
    child.once('error', (err) => options.log?.debug({ err: errorMessage(err) }, 'provider probe process'));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (output.trim()) options.log?.debug({ output: output.trim() }, 'native output of the provider probe');
      const how = signal ? `killed (${signal})` : `exited with code ${code}`;
      const last = output.trim().split('\n').at(-1);
      resolve(
        rejectAll(`the probe process ${how} before answering${last ? ` (${last.slice(0, 200)})` : ''}`),
      );
    });
    child.send({ providers: [...providers] } satisfies ProbeRequest);
  });
}
