import { describe, expect, it } from 'vitest';
import { probeInChildProcess } from '../../../src/hardware/provider-probe.js';

describe('provider probe in a child process', () => {
  it('answers per provider: CPU works, an unknown one is rejected with the reason', async () => {
    const answers = await probeInChildProcess(['cpu', 'no-such-provider']);
    expect([...answers.keys()]).toEqual(['cpu', 'no-such-provider']);
    expect(answers.get('cpu')).toBeUndefined();
    expect(answers.get('no-such-provider')).toMatch(/no-such-provider/);
  });

  it('starts no process for an empty list', async () => {
    expect((await probeInChildProcess([])).size).toBe(0);
  });

  it('rejects what a hung child did not answer, with the reason', async () => {
    const answers = await probeInChildProcess(['cpu'], { timeoutMs: 1 });
    expect(answers.get('cpu')).toMatch(/probe process killed \(SIGKILL\) before answering/);
  });
});
