import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { type Clock, isAbortError } from '../clock.js';
import { EdgeAgentError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { buildCaptureCommand, type CaptureOptions } from './capture-command.js';
import { CaptureRun, type SpawnFn } from './capture-process.js';
import { type BackoffPolicy, backoffDelayMs, cameraState } from './health.js';
import { SourceMonitor } from './monitor.js';
import { linkSignals } from './signals.js';
import { requireTool, type ToolLookup } from './tools.js';
import type { CameraStateChange, CameraStatus, Frame, FrameSource, FrameTarget } from './types.js';
import { redactUrl, type SourceSpec } from './uri.js';

export interface SupervisionOptions {
  /** No frame for this long while capturing: the process is killed and restarted. */
  stallTimeoutMs: number;
  /** A (re)started process must deliver its first frame within this (connecting takes a while). */
  startTimeoutMs: number;
  /** No frame for this long (or none since the start): the camera is `offline`. */
  offlineAfterMs: number;
  backoff: BackoffPolicy;
  /** Grace between SIGTERM and SIGKILL. */
  killTimeoutMs: number;
  /** A run that delivered frames this long resets the backoff. */
  stableAfterMs: number;
}

export interface SupervisedSourceOptions {
  /** `camera.source` as configured (passwords are redacted before it is shown anywhere). */
  source: string;
  spec: Exclude<SourceSpec, { kind: 'images' } | { kind: 'synthetic' }>;
  capture: Omit<CaptureOptions, 'target' | 'tools' | 'ffmpegMajor'>;
  supervision: SupervisionOptions;
  /** Let the capture process scale and pad frames for the model when asked (camera.scaleInCapture). */
  acceptTargets: boolean;
}

export interface SupervisedSourceDeps {
  clock: Clock;
  log?: Logger;
  signal?: AbortSignal;
  spawn?: SpawnFn;
  lookup: ToolLookup;
  random?: () => number;
}

/**
 * A camera behind a capture process (ffmpeg, fed by rpicam-vid or gst-launch-1.0 for CSI cameras),
 * watched: no frame within the timeouts, a crash or an exit → the process is killed (SIGTERM, then
 * SIGKILL) and restarted with exponential backoff and jitter. State changes are reported as events.
 */
export class SupervisedSource implements FrameSource {
  readonly description: string;
  readonly live: boolean;
  private readonly monitor: SourceMonitor;
  private target: FrameTarget | undefined;
  private run: CaptureRun | undefined;
  private restartRequested = false;
  private iterating = false;
  private startedAtMs = 0;
  private lastReason = 'capture started';
  private closing = false;
  private failedSinceLastFrame = false;
  private lastDemandAtMs = 0;
  /** Frame sequence numbers go on across restarts and capture sessions. */
  private seq = 0;
  /** The reader has a frame and has not asked for the next (a lossless capture is paused meanwhile). */
  private readerHolding = false;

  constructor(
    private readonly options: SupervisedSourceOptions,
    private readonly deps: SupervisedSourceDeps,
  ) {
    this.description = redactUrl(options.source);
    this.live = !(options.spec.kind === 'file' && !options.capture.realtime);
    this.monitor = new SourceMonitor(this.description, deps.clock, deps.log);
  }

  status(): CameraStatus {
    return this.monitor.status();
  }

  onStateChange(listener: (change: CameraStateChange) => void): () => void {
    return this.monitor.onStateChange(listener);
  }

  setTarget(target: FrameTarget | undefined): boolean {
    if (!this.options.acceptTargets) return false;
    if (JSON.stringify(target) === JSON.stringify(this.target)) return true;
    this.target = target;
    if (this.run) {
      this.restartRequested = true;
      void this.run.stop('model input changed');
    }
    return true;
  }

  [Symbol.asyncIterator](): AsyncGenerator<Frame> {
    return this.frames();
  }

  async *frames(stop?: AbortSignal): AsyncGenerator<Frame> {
    if (this.iterating) throw new EdgeAgentError(`camera ${this.description} is already being read`);
    const { spec, supervision } = this.options;
    const { clock } = this.deps;
    const linked = linkSignals(this.deps.signal, stop);
    const signal = linked.signal;
    const tools = this.resolveTools();
    if (spec.kind === 'file' && !existsSync(spec.path)) {
      throw new EdgeAgentError(`camera.source file:${spec.path}: no such file`);
    }
    const ffmpegMajor =
      spec.kind === 'rtsp' || spec.kind === 'http' ? await ffmpegMajorVersion(tools.ffmpeg) : undefined;
    this.iterating = true;
    this.closing = false;
    this.failedSinceLastFrame = false;
    this.lastDemandAtMs = 0;
    this.startedAtMs = clock.now();
    this.lastReason = 'capture started';
    this.monitor.setState('starting', this.lastReason);
    const ticker = setInterval(
      () => this.evaluate(),
      Math.max(50, Math.min(250, supervision.stallTimeoutMs / 4)),
    );
    let failures = 0;
    let runs = 0;
    let afterFailure = false;
    try {
      while (!signal.aborted) {
        // A restart for a new model input is not a connection problem: not counted.
        if (runs++ > 0 && afterFailure) this.monitor.reconnect();
        afterFailure = false;
        const target = this.options.acceptTargets ? this.target : undefined;
        const command = buildCaptureCommand(spec, {
          ...this.options.capture,
          target,
          tools,
          ...(ffmpegMajor ? { ffmpegMajor } : {}),
        });
        const run = new CaptureRun(
          {
            command,
            target,
            origin: this.description,
            firstSeq: this.seq,
            killTimeoutMs: supervision.killTimeoutMs,
            lossless: !this.live,
          },
          {
            clock,
            log: this.deps.log,
            spawn: this.deps.spawn,
            redact: (t) => redactText(t, this.options.source),
          },
        );
        this.run = run;
        const onAbort = () => void run.stop('capture stopped');
        signal.addEventListener('abort', onAbort, { once: true });
        this.monitor.process(run.pid);
        this.monitor.preparedFor = target;
        const watchdog = setInterval(
          () => this.watch(run),
          Math.max(50, Math.min(250, supervision.stallTimeoutMs / 4)),
        );
        let exhausted = false;
        try {
          for (;;) {
            const next = await run.frames.next();
            if (next.done) {
              exhausted = true;
              break;
            }
            const frame = next.value;
            const size = run.sourceSize ?? frame;
            this.monitor.frame(frame.timestampMs, size.width, size.height);
            this.lastReason = 'frames arriving';
            this.failedSinceLastFrame = false;
            this.evaluate();
            this.readerHolding = true;
            try {
              yield frame;
            } finally {
              this.readerHolding = false;
            }
            // A slow reader is not a stalled camera: silence counts from when it asks again.
            this.lastDemandAtMs = clock.now();
          }
        } finally {
          clearInterval(watchdog);
          signal.removeEventListener('abort', onAbort);
          // The consumer stopped reading (break, return) or the signal fired: no stall to report.
          if (!exhausted || signal.aborted) this.closing = true;
          if (this.run === run) this.run = undefined;
          // Still running when the consumer stopped reading (break, return, abort).
          await run.stop('capture stopped');
          this.seq = run.nextSeq;
        }
        const end = await run.ended;
        this.monitor.process(undefined);
        if (end.clean && command.endsOnCleanExit) return;
        if (signal.aborted) return;
        if (this.restartRequested) {
          this.restartRequested = false;
          continue;
        }
        afterFailure = true;
        this.failedSinceLastFrame = true;
        this.lastReason = end.reason;
        this.monitor.error(end.reason);
        const stable =
          run.firstFrameAtMs !== undefined &&
          (run.lastFrameAtMs ?? 0) - run.firstFrameAtMs >= supervision.stableAfterMs;
        failures = stable ? 1 : failures + 1;
        const delayMs = backoffDelayMs(failures, supervision.backoff, (this.deps.random ?? Math.random)());
        this.evaluate();
        this.deps.log?.warn(
          { source: this.description, reason: end.reason, restartInMs: delayMs, failures },
          'capture ended; restarting',
        );
        await clock.sleep(delayMs, signal);
      }
    } catch (err) {
      if (!isAbortError(err)) throw err;
    } finally {
      linked.dispose();
      clearInterval(ticker);
      this.iterating = false;
      this.monitor.process(undefined);
      this.monitor.setState('stopped', signal.aborted ? 'capture stopped' : 'capture ended');
    }
  }

  private resolveTools(): CaptureOptions['tools'] {
    const { spec } = this.options;
    const lookup = this.deps.lookup;
    const purpose = `camera source ${this.description}`;
    const ffmpeg = requireTool(['ffmpeg'], purpose, lookup);
    if (spec.kind === 'libcamera') {
      return {
        ffmpeg,
        rpicam: requireTool(['rpicam-vid', 'libcamera-vid'], 'the Raspberry Pi CSI camera', lookup),
      };
    }
    if (spec.kind === 'jetson-csi') {
      return {
        ffmpeg,
        gstLaunch: requireTool(['gst-launch-1.0'], 'the Jetson CSI camera (nvarguscamerasrc)', lookup),
      };
    }
    return { ffmpeg };
  }

  /** Kills a run that went quiet: the first frame within startTimeout, then one per stallTimeout. */
  private watch(run: CaptureRun): void {
    const { stallTimeoutMs, startTimeoutMs } = this.options.supervision;
    const now = this.deps.clock.now();
    const last = run.lastFrameAtMs;
    const limit = last === undefined ? startTimeoutMs : stallTimeoutMs;
    const since = Math.max(last ?? run.startedAtMs, this.lastDemandAtMs);
    if (now - since < limit || this.run !== run || (!this.live && this.readerHolding)) return;
    this.run = undefined;
    this.monitor.stall();
    const why =
      last === undefined ? `no first frame within ${limit / 1000} s` : `no frame for ${limit / 1000} s`;
    this.lastReason = `stalled: ${why}`;
    this.failedSinceLastFrame = true;
    void run.stop(this.lastReason);
    this.evaluate();
  }

  private evaluate(): void {
    if (!this.iterating || this.closing || (!this.live && this.readerHolding)) return;
    const { stallTimeoutMs, offlineAfterMs } = this.options.supervision;
    const state = cameraState({
      now: this.deps.clock.now(),
      startedAtMs: this.startedAtMs,
      lastFrameAtMs:
        this.monitor.lastFrameAt === undefined
          ? undefined
          : Math.max(this.monitor.lastFrameAt, this.lastDemandAtMs),
      stallTimeoutMs,
      offlineAfterMs,
      failedSinceLastFrame: this.failedSinceLastFrame,
    });
    this.monitor.setState(state, this.lastReason);
  }
}

/** Replaces the configured source (which may hold a password) in a text with its redacted form. */
function redactText(text: string, source: string): string {
  const redacted = redactUrl(source);
  return redacted === source ? text : text.split(source).join(redacted);
}

const execFileAsync = promisify(execFile);

/** Major version of the installed ffmpeg (4.x names RTSP options differently); undefined for git builds. */
export async function ffmpegMajorVersion(ffmpeg: string): Promise<number | undefined> {
  try {
    const { stdout } = await execFileAsync(ffmpeg, ['-hide_banner', '-version'], { timeout: 10_000 });
    const m = /ffmpeg version n?(\d+)\./.exec(stdout);
    return m ? Number(m[1]) : undefined;
  } catch (err) {
    throw new EdgeAgentError(`${ffmpeg} -version failed: ${errorMessage(err)}`, { cause: err });
  }
}
