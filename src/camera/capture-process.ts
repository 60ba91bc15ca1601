import { type ChildProcess, spawn as nodeSpawn, type SpawnOptions } from 'node:child_process';
import { BufferRelease } from '../buffer-release.js';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { type CaptureCommand, formatCommand } from './capture-command.js';
import { explainFailure, FrameAssembler, failureReason, LineTail, parseInputVideo } from './ffmpeg-output.js';
import { LatestQueue } from './latest-queue.js';
import { preparedGeometry } from './prepared.js';
import type { Frame, FrameTarget, PreparedGeometry } from './types.js';

export type SpawnFn = (command: string, args: string[], options: SpawnOptions) => ChildProcess;

export interface CaptureRunDeps {
  clock: Clock;
  log?: Logger;
  spawn?: SpawnFn;
  /** How the command is shown in logs (URLs with passwords redacted). */
  redact: (text: string) => string;
}

export interface CaptureRunOptions {
  command: CaptureCommand;
  target: FrameTarget | undefined;
  origin: string;
  /** First sequence number of this run (sequence continues across restarts). */
  firstSeq: number;
  /** Grace between SIGTERM and SIGKILL. */
  killTimeoutMs: number;
  /** Pause the process instead of dropping frames when the reader is slower (files as fast as possible). */
  lossless?: boolean;
}

export interface RunEnd {
  /** Why the run ended, for logs and the camera status. */
  reason: string;
  /** The capture process exited 0 on its own (end of a file). */
  clean: boolean;
  /** Ended by stop() (stall, target change, shutdown), not by the process itself. */
  stopped: boolean;
}

/**
 * One attempt of a capture process (optionally fed by a producer): spawns it, cuts its stdout into
 * frames, parses its log for the camera size, and ends with the reason it stopped. Supervision
 * (watchdog, restarts) is the caller's; `stop()` terminates with SIGTERM, then SIGKILL.
 */
export class CaptureRun {
  readonly frames: LatestQueue<Frame>;
  readonly startedAtMs: number;
  firstFrameAtMs: number | undefined;
  lastFrameAtMs: number | undefined;
  delivered = 0;
  sourceSize: { width: number; height: number } | undefined;
  readonly ended: Promise<RunEnd>;
  private readonly children: ChildProcess[] = [];
  /** Each child's 'close': its exit and the end of its output pipes (the last frames are read by then). */
  private readonly closed = new Map<ChildProcess, Promise<void>>();
  private paused = false;
  /** stop() was called: what the process still writes is read and dropped, so its pipes can close. */
  private discarding = false;
  private readonly stderr = new LineTail();
  private assembler: FrameAssembler | undefined;
  private pendingChunks: Buffer[] = [];
  /** The pipe's reads are freed once copied into a frame, frames once dropped (buffer-release.ts). */
  private readonly buffers = new BufferRelease();
  private pendingBytes = 0;
  private prepared: PreparedGeometry | undefined;
  private stopReason: string | undefined;
  private seq: number;

  constructor(
    private readonly options: CaptureRunOptions,
    private readonly deps: CaptureRunDeps,
  ) {
    this.startedAtMs = deps.clock.now();
    // A frame the reader never took is this run's own: its memory goes when it is dropped.
    this.frames = new LatestQueue<Frame>(
      2,
      options.lossless ? { onSpace: () => this.resume() } : undefined,
      (frame) => this.buffers.release(frame.data),
    );
    this.seq = options.firstSeq;
    this.sourceSize = options.command.sourceSize;
    this.ended = this.spawnAll();
    this.ended.then(
      () => this.frames.close(),
      (err) => this.frames.close(err),
    );
    this.ended.finally(() => this.buffers.close()).catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.children[this.children.length - 1]?.pid;
  }

  get nextSeq(): number {
    return this.seq;
  }

  /** The reader took a frame: let a paused capture process write again. */
  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.children[this.children.length - 1]?.stdout?.resume();
  }

  /** Terminates the processes; resolves once they exited and their pipes closed. */
  async stop(reason: string): Promise<RunEnd> {
    this.stopReason ??= reason;
    this.discarding = true;
    for (const child of this.children) {
      terminate(child, this.options.killTimeoutMs);
      // A paused pipe (lossless, reader gone) would never reach its end: read it out and drop it.
      child.stdout?.resume();
      if (hasExited(child)) closeStdio(child);
    }
    return this.ended;
  }

  /** Remembers when the child's pipes close; once stopped, an exited child's pipes are closed at once. */
  private track(child: ChildProcess): void {
    this.children.push(child);
    this.closed.set(
      child,
      new Promise<void>((resolve) => {
        child.once('close', () => resolve());
        // A process that could not be started has no pipes to wait for.
        child.once('error', () => {
          if (child.pid === undefined) resolve();
        });
      }),
    );
    // Something else holding the pipe open (a child of the process) must not hold up a stop.
    child.once('exit', () => {
      if (this.discarding) closeStdio(child);
    });
  }

  /** Resolves once the child exited and everything it wrote has been read. */
  private exited(child: ChildProcess): Promise<void> {
    return this.closed.get(child) ?? Promise.resolve();
  }

  private spawnAll(): Promise<RunEnd> {
    const spawn = this.deps.spawn ?? nodeSpawn;
    const { command } = this.options;
    const log = this.deps.log;
    return new Promise<RunEnd>((resolve) => {
      let finished = false;
      const finish = (end: RunEnd) => {
        if (finished) return;
        finished = true;
        for (const child of this.children) terminate(child, this.options.killTimeoutMs);
        // 'close', not 'exit': frames still in the pipe when the process exits are read first.
        Promise.all(this.children.map((child) => this.exited(child))).then(() => resolve(end));
      };
      let producer: ChildProcess | undefined;
      if (command.producer) {
        log?.info({ command: this.deps.redact(formatCommand(command.producer)) }, 'starting camera producer');
        producer = spawn(command.producer.command, command.producer.args, {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        this.track(producer);
        producer.stderr?.on('data', (d: Buffer) => this.stderr.push(d.toString('utf8')));
      }
      log?.info({ command: this.deps.redact(formatCommand(command.ffmpeg)) }, 'starting capture process');
      const ffmpeg = spawn(command.ffmpeg.command, command.ffmpeg.args, {
        stdio: [producer ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      });
      this.track(ffmpeg);
      if (producer?.stdout && ffmpeg.stdin) {
        // A dying ffmpeg closes its stdin: EPIPE here is expected, the exit handler reports why.
        ffmpeg.stdin.on('error', (err) => log?.debug({ err: errorMessage(err) }, 'capture stdin closed'));
        producer.stdout.pipe(ffmpeg.stdin);
      }
      ffmpeg.stderr?.on('data', (d: Buffer) => {
        this.stderr.push(d.toString('utf8'));
        if (!this.assembler) this.tryStartFrames();
      });
      ffmpeg.stdout?.on('data', (chunk: Buffer) => this.onData(chunk));

      const onExit = (name: string) => (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.stopReason !== undefined) {
          finish({ reason: this.stopReason, clean: false, stopped: true });
          return;
        }
        const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
        const line = failureReason(this.stderr.all());
        const detail = line && name === 'ffmpeg' ? explainFailure(line, command.ffmpeg.args) : line;
        const clean = name === 'ffmpeg' && code === 0;
        finish({
          reason: clean ? 'end of stream' : `${name} ${how}${detail ? `: ${this.deps.redact(detail)}` : ''}`,
          clean,
          stopped: false,
        });
      };
      const onError = (name: string) => (err: Error) => {
        finish({
          reason: `${name} could not be started: ${errorMessage(err)}`,
          clean: false,
          stopped: false,
        });
      };
      ffmpeg.on('exit', onExit('ffmpeg'));
      ffmpeg.on('error', onError('ffmpeg'));
      if (producer) {
        const name = command.producer!.command.split('/').pop() ?? 'producer';
        producer.on('exit', onExit(name));
        producer.on('error', onError(name));
      }
    });
  }

  /** Frames can be cut once their byte size is known, and stamped once the camera size is. */
  private tryStartFrames(): void {
    const { command, target } = this.options;
    if (!this.sourceSize) {
      const info = parseInputVideo(this.stderr.head);
      if (info) this.sourceSize = { width: info.width, height: info.height };
    }
    const out = command.outputSize ?? this.sourceSize;
    if (!out || !this.sourceSize) return;
    if (target) {
      this.prepared = preparedGeometry(this.sourceSize.width, this.sourceSize.height, target);
    }
    this.assembler = new FrameAssembler(out.width * out.height * 3);
    const pending = this.pendingChunks;
    this.pendingChunks = [];
    this.pendingBytes = 0;
    for (const chunk of pending) this.onData(chunk);
  }

  private onData(chunk: Buffer): void {
    if (this.discarding) {
      this.buffers.release(chunk);
      return;
    }
    if (!this.assembler) {
      this.tryStartFrames();
      if (!this.assembler) {
        // ffmpeg writes its stream info before the first frame; hold a few frames' bytes meanwhile.
        this.pendingChunks.push(chunk);
        this.pendingBytes += chunk.length;
        if (this.pendingBytes > 64 * 1024 * 1024) {
          void this.stop('the camera image size could not be read from the ffmpeg log');
        }
        return;
      }
    }
    const out = this.options.command.outputSize ?? this.sourceSize!;
    this.assembler.push(chunk, (data) => {
      const now = this.deps.clock.now();
      this.firstFrameAtMs ??= now;
      this.lastFrameAtMs = now;
      this.delivered++;
      const frame: Frame = {
        data,
        width: out.width,
        height: out.height,
        channels: 3,
        timestampMs: now,
        seq: this.seq++,
        origin: this.options.origin,
        ...(this.prepared ? { prepared: this.prepared } : {}),
        ownsBuffer: true,
      };
      this.frames.push(frame);
      if (this.options.lossless && this.frames.full && !this.paused) {
        // Backpressure: ffmpeg blocks on a full pipe instead of decoding frames nobody reads.
        this.paused = true;
        this.children[this.children.length - 1]?.stdout?.pause();
      }
    });
    // Copied into the frame: the read's memory goes now, not at the thread's next collection.
    this.buffers.release(chunk);
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
}

function closeStdio(child: ChildProcess): void {
  for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
}

const terminating = new WeakSet<ChildProcess>();

/** SIGTERM, then SIGKILL if it is still there after the grace period. */
function terminate(child: ChildProcess, killTimeoutMs: number): void {
  if (hasExited(child)) return;
  if (terminating.has(child)) return;
  terminating.add(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, killTimeoutMs);
  timer.unref();
  child.once('exit', () => clearTimeout(timer));
}
