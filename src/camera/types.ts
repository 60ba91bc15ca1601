import type { InverseTransform } from '../image/types.js';
import type { ResizeSpec } from '../models/manifest.js';

/**
 * A model input canvas a capture process can scale and pad frames to, so the JavaScript side only
 * copies (or not even that) — see docs/camera.md "Per-frame cost".
 */
export interface FrameTarget {
  width: number;
  height: number;
  resize: ResizeSpec;
  /** Channel order of the delivered pixels; the model's, so no swap is needed later. */
  colorOrder: 'RGB' | 'BGR';
  /**
   * Planar pixels (ffmpeg's gbrp: a G plane, then B, then R) for channel-first (NCHW) models:
   * each tensor plane is then one typed-array copy. Interleaved when false (NHWC models).
   */
  planar: boolean;
}

/** How a prepared frame relates to the camera image it was made from. */
export interface PreparedGeometry {
  target: FrameTarget;
  /** The camera image's size before scaling. */
  sourceWidth: number;
  sourceHeight: number;
  /** The scaled camera image's region on the canvas (the rest is padding). */
  contentX: number;
  contentY: number;
  contentWidth: number;
  contentHeight: number;
  /** Maps canvas pixels back to camera-image pixels. */
  inverse: InverseTransform;
}

/** One captured frame: interleaved 8-bit pixels plus when and in what order it was captured. */
export interface Frame {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
  /** Capture time, milliseconds since the epoch. */
  timestampMs: number;
  /** Increasing per source, starting at 0; gaps mean frames were dropped upstream. */
  seq: number;
  /** Where it came from (a file name, a device), for logs and results. */
  origin: string;
  /**
   * Set when the capture process already scaled and padded the frame to a model input canvas:
   * `data` is then `target.width × target.height`, interleaved in `target.colorOrder` or planar
   * G, B, R when `target.planar`. Absent: plain interleaved RGB.
   */
  prepared?: PreparedGeometry;
  /**
   * `data` is this frame's own buffer, held nowhere else by the source (a capture-pipe frame): once
   * the pipeline is done with the frame, its memory may be freed at once (buffer-release.ts).
   * Absent for sources that may hand out the same pixels again (stills, synthetic frames).
   */
  ownsBuffer?: true;
}

export type CameraState = 'stopped' | 'starting' | 'online' | 'stalled' | 'offline';
export type ConnectionQuality = 'excellent' | 'fair' | 'poor' | 'unusable';

/** What a source reports about itself: for /api/status, /metrics and telemetry. */
export interface CameraStatus {
  source: string;
  state: CameraState;
  /** When the current state began (ms since the epoch). */
  sinceMs: number;
  lastFrameAtMs: number | undefined;
  framesDelivered: number;
  /** Capture process starts after the first one (crash, stall or end of stream). */
  reconnects: number;
  /** Times no frame came within the stall timeout. */
  stalls: number;
  reconnectsLastHour: number;
  stallsLastHour: number;
  quality: ConnectionQuality;
  /** The latest failure (exit code, last ffmpeg error line), cleared by nothing: it is history. */
  lastError: string | undefined;
  /** Size of the camera image, once known. */
  width: number | undefined;
  height: number | undefined;
  /** Whether frames come scaled for the model by the capture process. */
  preparedFor: FrameTarget | undefined;
  pid: number | undefined;
}

export interface CameraStateChange {
  state: CameraState;
  previous: CameraState;
  reason: string;
  atMs: number;
}

/** A camera or other frame source. Iterating starts capture; breaking out of the loop stops it. */
export interface FrameSource extends AsyncIterable<Frame> {
  readonly description: string;
  /**
   * True for cameras (and sources played at their own rate): frames keep coming whether or not
   * they are read, so the newest wins. False for files, folders and patterns played as fast as
   * possible: nothing is dropped, the reader sets the pace.
   */
  readonly live: boolean;
  /**
   * Starts capture and yields frames until `stop` fires, the source ends, or the consumer breaks
   * out; capture processes are terminated then. One reader at a time.
   */
  frames(stop?: AbortSignal): AsyncIterable<Frame>;
  /** The source's health; sources without supervision report what they can. */
  status(): CameraStatus;
  /** Subscribes to state changes; returns the unsubscribe function. */
  onStateChange(listener: (change: CameraStateChange) => void): () => void;
  /**
   * Asks for frames scaled and padded to a model input (capture processes do it in their own
   * process). Returns false when the source cannot, and frames stay plain RGB. May restart capture.
   */
  setTarget(target: FrameTarget | undefined): boolean;
}
