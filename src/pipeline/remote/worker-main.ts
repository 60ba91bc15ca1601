// The pipeline worker: capture (the ffmpeg child is spawned and read here), preparation,
// inference through a port to the model's session, and decoding run in this thread with the same
// modules as the in-process Pipeline — only results (and pixels when asked) reach the main thread.
// It also hosts the agent's onnxruntime sessions (session-host.ts: one isolate less than a session
// worker); the pipeline reaches them through ports like any other thread. Started by boot.mjs;
// see remote-pipeline.ts for the main thread's side.
import { type MessagePort, parentPort } from 'node:worker_threads';
import { type LevelWithSilent, pino } from 'pino';
import { BufferRelease } from '../../buffer-release.js';
import { createSource } from '../../camera/index.js';
import { errorMessage } from '../../errors.js';
import { PortModel } from '../../inference/port-model.js';
import { collectionFields, startHeapKeeper } from '../../service/heap-keeper.js';
import { Pipeline } from '../pipeline.js';
import type { FramePair, PipelineModel } from '../types.js';
import type {
  FromWorker,
  HostSession,
  PipelineInit,
  ProbeProviders,
  ProbeReply,
  ToWorker,
} from './protocol.js';

const STATS_INTERVAL_MS = 500;

/** A logger whose JSON lines the main thread re-emits through its own (RemotePipeline's relay). */
function relayLogger(level: string, write: (line: string) => void) {
  return pino({ level: level as LevelWithSilent, base: undefined, timestamp: false }, { write });
}

/** Builds the pipeline `data` describes; returns the handler of the main thread's later messages. */
function main(port: MessagePort, data: PipelineInit, end: () => void): (msg: ToWorker) => void {
  const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
  // Log lines go to the main thread's logger (one destination, one level).
  const log = relayLogger(data.logLevel, (line) => post({ type: 'log', line }));
  const abort = new AbortController();
  const source = createSource(data.camera, {
    signal: abort.signal,
    log: log.child({ component: 'camera' }),
    ...(data.imageLimits ? { imageLimits: data.imageLimits } : {}),
  });
  // Decoded outputs and replaced frames are freed at once (BufferRelease): they are this thread's own.
  const buffers = new BufferRelease();
  const pipeline = new Pipeline({
    source,
    model: new PortModel(data.model, data.port) as PipelineModel,
    release: (view) => buffers.release(view),
    pacing: data.pacing,
    maxFrameAgeMs: data.maxFrameAgeMs,
    scaleInCapture: data.scaleInCapture,
    log: log.child({ component: 'pipeline' }),
  });
  source.onStateChange((change) => post({ type: 'camera', change, status: source.status() }));

  let wantFrames = false;
  let last: FramePair | undefined;
  pipeline.onFrame((result, frame) => {
    // Results come in capture order, so the frame this one replaces is older than any the pipeline
    // still holds: a capture frame's memory goes now, not at this thread's next collection.
    if (last?.frame.ownsBuffer && last.frame !== frame) buffers.release(last.frame.data);
    last = { result, frame };
    const counters = pipeline.counters();
    if (!wantFrames || frame.data.byteLength === 0) {
      post({ type: 'result', result, counters });
      return;
    }
    const copy = copyFrame(frame);
    post({ type: 'result', result, counters, frame: copy }, [copy.data.buffer as ArrayBuffer]);
  });

  // Collections between frames keep this isolate's heap near what it holds (heap-keeper.ts).
  const keeper =
    data.heapKeeper &&
    startHeapKeeper(
      { ...data.heapKeeper, idle: () => !pipeline.working },
      {
        onCollect: (c) =>
          log.debug(
            { component: 'heap', thread: 'pipeline worker', ...collectionFields(c) },
            'heap collected',
          ),
      },
    );

  let timer: NodeJS.Timeout | undefined;
  const finish = (error?: string) => {
    clearInterval(timer);
    keeper?.stop();
    post({ type: 'finished', stats: pipeline.stats(), ...(error ? { error } : {}) });
    void (pipeline.model as unknown as PortModel).dispose();
    buffers.close();
    end();
  };

  let started = false;
  const handle = (msg: ToWorker) => {
    switch (msg.type) {
      case 'start':
        started = true;
        pipeline.start(abort.signal);
        timer = setInterval(() => post({ type: 'stats', stats: pipeline.stats() }), STATS_INTERVAL_MS);
        pipeline.finished().then(
          () => finish(),
          (err) => finish(errorMessage(err)),
        );
        return;
      case 'stop':
        abort.abort();
        void pipeline.stop();
        return;
      // Stopped before it started: nothing runs, so it is over now (its model's port closes).
      case 'close':
        if (!started) {
          started = true;
          abort.abort();
          finish();
        }
        return;
      case 'pacing':
        pipeline.setPacing(msg.pacing, { quiet: msg.quiet === true });
        return;
      case 'model': {
        const previous = pipeline.model as unknown as PortModel;
        // The frame in flight finishes on the previous model, whose port is then closed.
        void pipeline
          .setModel(new PortModel(msg.model, msg.port) as PipelineModel)
          .then(() => post({ type: 'retired', key: previous.info.key }));
        return;
      }
      case 'frames':
        wantFrames = msg.want;
        return;
      case 'latest-frame': {
        const pair = last && last.frame.data.byteLength > 0 ? last : undefined;
        const frame = pair && copyFrame(pair.frame);
        post(
          {
            type: 'latest-frame',
            id: msg.id,
            pair: pair && frame ? { result: pair.result, frame } : undefined,
          },
          frame ? [frame.data.buffer as ArrayBuffer] : [],
        );
        return;
      }
    }
  };
  post({ type: 'ready', description: source.description, stats: pipeline.stats() });
  return handle;
}

/**
 * Serves a session in this thread until it is released (its port then closes). onnxruntime loads
 * on the first one (a pipeline worker without a session never loads it).
 */
async function hostSession(msg: HostSession, busy: Set<MessagePort>, ended: () => void): Promise<void> {
  busy.add(msg.port);
  msg.port.once('close', () => {
    busy.delete(msg.port);
    ended();
  });
  try {
    const { serveSession } = await import('../../inference/serve-session.mjs');
    await serveSession(msg.port, msg.session);
  } catch (err) {
    msg.port.postMessage({
      type: 'failed',
      message: `the pipeline worker cannot host it: ${errorMessage(err)}`,
    });
    msg.port.close();
  }
}

/**
 * Probes onnxruntime's execution providers here, where onnxruntime is loaded for the sessions
 * anyway (hardware/execution-providers.ts; the non-CPU ones in its child process, as on any thread):
 * the main thread then never loads onnxruntime. Answers, with the probe's log lines, on the port.
 */
async function probeProviders(msg: ProbeProviders, busy: Set<MessagePort>, ended: () => void): Promise<void> {
  // A probe under way keeps the thread alive like a session: it creates and runs one (protocol.ts).
  busy.add(msg.port);
  msg.port.once('close', () => {
    busy.delete(msg.port);
    ended();
  });
  const reply = (r: ProbeReply) => msg.port.postMessage(r);
  const log = relayLogger(msg.logLevel, (line) => reply({ type: 'log', line }));
  try {
    const { probeExecutionProviders } = await import('../../hardware/execution-providers.js');
    reply({
      type: 'done',
      info: await probeExecutionProviders({ log: log.child({ component: 'hardware' }) }),
    });
  } catch (err) {
    reply({ type: 'failed', message: errorMessage(err) });
  } finally {
    msg.port.close();
  }
}

/** A copy whose buffer can move to the main thread (frame buffers here may be reused or shared). */
function copyFrame<T extends { data: Uint8Array }>(frame: T): T {
  return { ...frame, data: new Uint8Array(frame.data) };
}

// Modules load as soon as the thread starts; the pipeline is built when the main thread says what to run.
// Started early and never told (the agent failed to start): the thread ends after a minute. The
// port to the main thread closes (and the thread ends) once the pipeline is over, the last
// session it hosts is released and no provider probe is under way: until then a model switch can
// still load a session here, and onnxruntime is never cut off in the middle of one.
const port = parentPort;
if (port) {
  const busy = new Set<MessagePort>();
  let over = false;
  const closeWhenIdle = () => {
    if (over && busy.size === 0) port.close();
  };
  const end = () => {
    over = true;
    closeWhenIdle();
  };
  const unused = setTimeout(end, 60_000);
  unused.unref();
  let handle: ((msg: ToWorker) => void) | undefined;
  port.on('message', (msg: PipelineInit | ToWorker | HostSession | ProbeProviders) => {
    if (msg.type === 'host-session') void hostSession(msg, busy, closeWhenIdle);
    else if (msg.type === 'probe-providers') void probeProviders(msg, busy, closeWhenIdle);
    else if (msg.type === 'init') {
      clearTimeout(unused);
      handle = main(port, msg, end);
    } else if (msg.type === 'close' && !handle) {
      clearTimeout(unused);
      end();
    } else handle?.(msg);
  });
}
