/**
 * TEST ONLY. Points where a test kills the agent with SIGKILL to prove a deployment survives a
 * crash there (test/integration/deploy/crash.test.ts). Active only when the environment variable
 * `EDGE_AGENT_TEST_CRASH_AT` names a point; unset (always, in production) it does nothing.
 *
 * - `downloaded`: the file is downloaded and its sha256 verified, nothing validated yet
 * - `install-fsynced`: the model file's temp copy is written and fsynced, not yet renamed
 * - `install-renamed`: renamed to its final path, the catalog manifest not yet updated
 * - `health`: in the health window, the new model serving (as a model that kills the agent would)
 * - `before-commit`: the health window passed and the config names the new model; the commit row is not written
 */
export const CRASH_POINTS = [
  'downloaded',
  'install-fsynced',
  'install-renamed',
  'health',
  'before-commit',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** The hook for `env`, or undefined when the variable is unset (production). */
export function testCrashHook(env: NodeJS.ProcessEnv): ((point: CrashPoint) => void) | undefined {
  const at = env.EDGE_AGENT_TEST_CRASH_AT;
  if (!at) return undefined;
  return (point) => {
    if (point !== at) return;
    process.stderr.write(`EDGE_AGENT_TEST_CRASH_AT=${point}: SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  };
}
