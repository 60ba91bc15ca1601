import { describe, expect, it } from 'vitest';
import type { PipelineHealth } from '../../../src/agent/resilience.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { pipelineFault } from '../../helpers/pipeline-fault.js';

describe('watchDegradation: the pipeline fault', () => {
  it('a failed pipeline is an error fault with its reason while it lasts; running, stopped or absent is none', async () => {
    let pipeline: PipelineHealth | undefined;
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
    // Without a recovery (a pipeline on this thread) the restart command is the way back.
    expect(first?.message).toContain(
      'the restart command (MQTT, or POST /api/controls/restart) runs it again',
    );
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

  it('a pipeline that restarts itself says when the next attempt comes, and which it is', () => {
    let pipeline: PipelineHealth | undefined;
    const fault = pipelineFault(new FakeClock(0), () => pipeline);
    pipeline = {
      state: 'failed',
      lastError: 'pipeline worker crashed: out of memory',
      restarts: { count: 1, failures: 3, nextAtMs: Date.now() + 3900 },
    };
    expect(fault()?.message).toBe(
      'inference stopped: pipeline worker crashed: out of memory; HTTP and MQTT go on; restarting it in 4 s (attempt 3)',
    );
    // Due: the new worker is being started and the model loaded into it.
    pipeline = { ...pipeline, restarts: { count: 1, failures: 3, nextAtMs: undefined } };
    expect(fault()?.message).toMatch(/; restarting it now$/);
    pipeline = { state: 'running', restarts: { count: 2, failures: 3, nextAtMs: undefined } };
    expect(fault()).toBeUndefined();
  });
});
