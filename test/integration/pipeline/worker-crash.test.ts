import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { noModel } from '../../../src/agent/no-model.js';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { RemotePipeline } from '../../../src/pipeline/remote/remote-pipeline.js';
import { pipelineFault } from '../../helpers/pipeline-fault.js';

// A pipeline worker that dies (an uncaught error, or exiting) ends the pipeline as failed, and the
// agent's `pipeline` fault says so with the reason: a real worker thread, the agent's fault probe.
function crashingPipeline(code: string): RemotePipeline {
  const worker = new Worker(`require('node:worker_threads').parentPort.once('message', () => { ${code} });`, {
    eval: true,
  });
  return new RemotePipeline({
    camera: parseConfig({ camera: { source: 'synthetic' } }).camera,
    model: noModel(() => 'test'),
    pacing: { mode: 'continuous' },
    maxFrameAgeMs: 1000,
    log: silentLogger(),
    worker,
  });
}

describe('a pipeline worker that dies', () => {
  it('an uncaught error: the pipeline fails with it and the pipeline fault names it', async () => {
    const pipeline = crashingPipeline("throw new Error('boom in the worker')");
    const fault = pipelineFault(systemClock, () => pipeline.stats());
    pipeline.start();
    await expect(pipeline.finished()).rejects.toThrow(/pipeline worker crashed: boom in the worker/);
    expect(pipeline.stats().state).toBe('failed');
    expect(fault()?.severity).toBe('error');
    expect(fault()?.message).toContain('inference stopped: pipeline worker crashed: boom in the worker');
    await pipeline.stop(); // stopping a failed pipeline is quiet
  });

  it('exiting: the exit code is the reason', async () => {
    const pipeline = crashingPipeline('process.exit(3)');
    const fault = pipelineFault(systemClock, () => pipeline.stats());
    pipeline.start();
    await expect(pipeline.finished()).rejects.toThrow(/pipeline worker exited \(code 3\)/);
    expect(fault()?.message).toContain('pipeline worker exited (code 3)');
  });
});
