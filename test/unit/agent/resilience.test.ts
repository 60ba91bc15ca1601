import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../helpers/fake-clock.js';
import { pipelineFault } from '../../helpers/pipeline-fault.js';

describe('watchDegradation: the pipeline fault', () => {
  it('a failed pipeline is an error fault with its reason while it lasts; running, stopped or absent is none', async () => {
    let pipeline: { state: string; lastError?: string } | undefined;
    const fault = pipelineFault(new FakeClock(0), () => pipeline);

    expect(fault()).toBeUndefined();
    for (const state of ['running', 'stopped', 'idle']) {
      pipeline = { state };
      expect(fault()).toBeUndefined();
    }
    pipeline = { state: 'failed', lastError: 'pipeline worker exited (code 1)' };
    const first = fault();
    expect(first).toMatchObject({ severity: 'error' });
    expect(first?.message).toContain('inference stopped: pipeline worker exited (code 1)');
    expect(first?.message).toContain('restart');
    await new Promise((r) => setTimeout(r, 5));
    expect(fault()?.sinceMs).toBe(first?.sinceMs); // the same fault, not a new one each read
    pipeline = { state: 'failed' };
    expect(fault()?.message).toContain('inference stopped: the pipeline failed');
    // Served without a token: a camera URL's password never shows.
    pipeline = { state: 'failed', lastError: 'rtsp://admin:hunter2@10.0.0.5/h264: connection refused' };
    expect(fault()?.message).toContain('rtsp://admin:***@10.0.0.5/h264');
    expect(fault()?.message).not.toContain('hunter2');
    pipeline = { state: 'running' };
    expect(fault()).toBeUndefined();
  });
});
