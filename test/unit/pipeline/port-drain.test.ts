import { EventEmitter, once } from 'node:events';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { deliverQueued } from '../../../src/pipeline/remote/port-drain.js';
import { probeInPipelineWorker } from '../../../src/pipeline/remote/provider-probe-host.js';
import { pipelineSessionHost } from '../../../src/pipeline/remote/session-host.js';

/**
 * The pipeline worker as the hosts see it: what it is sent, and its `exit` emitted by the test at
 * the moment that matters (after it posted, before this thread received). A real thread's exit can
 * arrive in that order too (tens of times in 300 on Node 20 and 24), but not on demand.
 */
class ThreadStandIn extends EventEmitter {
  readonly threadId = 7;
  readonly sent: Array<{ port: MessagePort }> = [];
  postMessage(msg: { port: MessagePort }): void {
    this.sent.push(msg);
  }
}

const received = (port: MessagePort) => {
  const got: unknown[] = [];
  port.on('message', (m) => got.push(m));
  return got;
};

describe('deliverQueued', () => {
  it('closing a port drops what it has not delivered (the failure it prevents)', async () => {
    const { port1, port2 } = new MessageChannel();
    const got = received(port2);
    port1.postMessage({ type: 'released' });
    const closed = once(port2, 'close');
    port2.close();
    await closed;
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([]);
  });

  it('hands the queued messages over in order, at once, and only once', async () => {
    const { port1, port2 } = new MessageChannel();
    const got = received(port2);
    port1.postMessage({ n: 1 });
    port1.postMessage({ n: 2 });
    deliverQueued(port2);
    expect(got).toEqual([{ n: 1 }, { n: 2 }]);
    deliverQueued(port2);
    const closed = once(port2, 'close');
    port2.close();
    await closed;
    expect(got).toEqual([{ n: 1 }, { n: 2 }]);
  });
});

describe('the pipeline worker ending right after it posted', () => {
  it("a hosted session's `released` still reaches its model", async () => {
    const thread = new ThreadStandIn();
    const host = pipelineSessionHost(thread as unknown as Worker);
    const port = host.open({ model: new Uint8Array(4), attempts: [] })!;
    const got = received(port);
    const closed = once(port, 'close');
    const theirs = thread.sent[0]!.port;
    theirs.postMessage({ type: 'released' });
    thread.emit('exit', 0);
    await closed;
    expect(got).toEqual([{ type: 'released' }]);
    // Ended: the next session gets a worker of its own.
    expect(host.open({ model: new Uint8Array(4), attempts: [] })).toBeUndefined();
    theirs.close();
  });

  it("a probe's answer still counts", async () => {
    const thread = new ThreadStandIn();
    const lines: string[] = [];
    const answer = probeInPipelineWorker(thread as unknown as Worker, {
      logLevel: 'info',
      relay: (line) => lines.push(line),
    });
    const theirs = thread.sent[0]!.port;
    const info = { available: ['cpu'], probed: [] };
    theirs.postMessage({ type: 'log', line: 'probing' });
    theirs.postMessage({ type: 'done', info });
    thread.emit('exit', 0);
    expect(await answer).toEqual({ info });
    expect(lines).toEqual(['probing']);
    theirs.close();
  });

  it('a probe the thread never answered fails as before', async () => {
    const thread = new ThreadStandIn();
    const answer = probeInPipelineWorker(thread as unknown as Worker, { logLevel: 'info', relay: () => {} });
    thread.emit('exit', 1);
    expect(await answer).toEqual({ failure: 'the pipeline worker ended before answering' });
    thread.sent[0]!.port.close();
  });

  it('a probe whose port the thread closed: an answer before the close counts, none fails — and the closed port is left alone', async () => {
    // Reading a port from its `close` listener kills the Node process (SIGSEGV, 20 and 24): this test then
    // takes its test worker down with it, as the CI run on 3dc282c did.
    const answered = new ThreadStandIn();
    const info = { available: ['cpu'], probed: [] };
    const answer = probeInPipelineWorker(answered as unknown as Worker, {
      logLevel: 'info',
      relay: () => {},
    });
    answered.sent[0]!.port.postMessage({ type: 'done', info });
    answered.sent[0]!.port.close();
    expect(await answer).toEqual({ info });

    const silent = new ThreadStandIn();
    const none = probeInPipelineWorker(silent as unknown as Worker, { logLevel: 'info', relay: () => {} });
    silent.sent[0]!.port.close();
    expect(await none).toEqual({ failure: 'the pipeline worker ended before answering' });
    silent.emit('exit', 0);
  });
});
