/** One captured frame: interleaved RGB pixels plus when and in what order it was captured. */
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
}

/** A camera or other frame source. Iterating starts capture; breaking out of the loop stops it. */
export interface FrameSource extends AsyncIterable<Frame> {
  readonly description: string;
}
