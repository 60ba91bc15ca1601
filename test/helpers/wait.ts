/** Polls `probe` every 25 ms until it returns a value (not undefined/false); throws after `timeoutMs`. */
export async function waitUntil<T>(
  probe: () => T | undefined | false,
  timeoutMs: number,
  describe: () => string = () => 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
