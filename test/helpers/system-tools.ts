import { execFileSync } from 'node:child_process';

/**
 * Whether a system tool the test needs (ffmpeg, chromium, mosquitto) is installed. Missing: the
 * test is skipped with the install command printed — except in CI (EDGE_AGENT_CI=1), where a
 * missing tool is an error, so a broken install step cannot hide behind skipped tests.
 *
 *   const hasFfmpeg = requireTool('ffmpeg', 'ffmpeg');
 *   describe.skipIf(!hasFfmpeg)('...', () => { ... });
 */
export function requireTool(
  name: string,
  debianPackage: string,
  find: (name: string) => string | undefined = toolPath,
): boolean {
  const found = find(name);
  if (found) return true;
  const install = `apt-get install -y ${debianPackage}`;
  if (process.env.EDGE_AGENT_CI === '1') {
    throw new Error(
      `${name} is required in CI (EDGE_AGENT_CI=1) but not installed: ${install} (scripts/install-system-deps.sh)`,
    );
  }
  process.stderr.write(
    `[skip] ${name} not installed; these tests are skipped. Install it with: ${install}\n`,
  );
  return false;
}

/** The tool's path in PATH, or undefined. */
export function toolPath(name: string): string | undefined {
  try {
    return (
      execFileSync('sh', ['-c', `command -v ${JSON.stringify(name)}`], { encoding: 'utf8' }).trim() ||
      undefined
    );
  } catch {
    return undefined;
  }
}

/**
 * Like `requireTool`, and the tool must also work here: `probe` runs it and throws when it cannot
 * (strace where ptrace is not allowed, e.g. a container without CAP_SYS_PTRACE or under a seccomp
 * profile). Not working: skipped with the probe's error outside CI, an error in CI.
 */
export function requireUsableTool(
  name: string,
  debianPackage: string,
  probe: () => void,
  find: (name: string) => string | undefined = toolPath,
): boolean {
  if (!requireTool(name, debianPackage, find)) return false;
  try {
    probe();
    return true;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    const message = `${name} is installed but cannot run here (${why})`;
    if (process.env.EDGE_AGENT_CI === '1')
      throw new Error(`${message}; it is required in CI (EDGE_AGENT_CI=1)`);
    process.stderr.write(`[skip] ${message}; these tests are skipped\n`);
    return false;
  }
}
