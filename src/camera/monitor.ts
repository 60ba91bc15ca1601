import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { connectionQuality, WindowCounter } from './health.js';
import type { CameraState, CameraStateChange, CameraStatus, FrameTarget } from './types.js';

/**
 * The bookkeeping every source shares: state with change events, frame counters, reconnects and
 * stalls over the last hour. One failing listener never stops the others.
 */
export class SourceMonitor {
  private state: CameraState = 'stopped';
  private sinceMs: number;
  private lastFrameAtMs: number | undefined;
  private framesDelivered = 0;
  private reconnectCount = 0;
  private stallCount = 0;
  private readonly reconnectWindow = new WindowCounter();
  private readonly stallWindow = new WindowCounter();
  private lastErrorText: string | undefined;
  private width: number | undefined;
  private height: number | undefined;
  private pid: number | undefined;
  preparedFor: FrameTarget | undefined;
  private readonly listeners = new Set<(change: CameraStateChange) => void>();

  constructor(
    readonly source: string,
    private readonly clock: Clock,
    private readonly log?: Logger,
  ) {
    this.sinceMs = clock.now();
  }

  get current(): CameraState {
    return this.state;
  }

  get lastFrameAt(): number | undefined {
    return this.lastFrameAtMs;
  }

  setState(state: CameraState, reason: string): void {
    if (state === this.state) return;
    const change: CameraStateChange = { state, previous: this.state, reason, atMs: this.clock.now() };
    this.state = state;
    this.sinceMs = change.atMs;
    const level = state === 'online' || state === 'starting' || state === 'stopped' ? 'info' : 'warn';
    this.log?.[level]({ source: this.source, state, previous: change.previous, reason }, 'camera state');
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.log?.warn({ err: errorMessage(err) }, 'camera state listener failed');
      }
    }
  }

  frame(atMs: number, width: number, height: number): void {
    this.lastFrameAtMs = atMs;
    this.framesDelivered++;
    this.width = width;
    this.height = height;
  }

  /** The camera image size, known before the first frame for capture processes. */
  size(width: number, height: number): void {
    this.width = width;
    this.height = height;
  }

  reconnect(): void {
    this.reconnectCount++;
    this.reconnectWindow.add(this.clock.now());
  }

  stall(): void {
    this.stallCount++;
    this.stallWindow.add(this.clock.now());
  }

  error(message: string): void {
    this.lastErrorText = message;
  }

  process(pid: number | undefined): void {
    this.pid = pid;
  }

  onStateChange(listener: (change: CameraStateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): CameraStatus {
    const now = this.clock.now();
    const reconnectsLastHour = this.reconnectWindow.count(now);
    const stallsLastHour = this.stallWindow.count(now);
    return {
      source: this.source,
      state: this.state,
      sinceMs: this.sinceMs,
      lastFrameAtMs: this.lastFrameAtMs,
      framesDelivered: this.framesDelivered,
      reconnects: this.reconnectCount,
      stalls: this.stallCount,
      reconnectsLastHour,
      stallsLastHour,
      quality: connectionQuality(this.state, reconnectsLastHour, stallsLastHour),
      lastError: this.lastErrorText,
      width: this.width,
      height: this.height,
      preparedFor: this.preparedFor,
      pid: this.pid,
    };
  }
}
