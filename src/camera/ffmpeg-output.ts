/** Reading what ffmpeg writes: raw frames on stdout, its log on stderr. Pure, tested on captured text. */

/**
 * Cuts a byte stream into fixed-size frames. Each frame is a fresh buffer the consumer may keep;
 * a partial frame at the end of a stream is discarded by the caller.
 */
export class FrameAssembler {
  private current: Buffer;
  private filled = 0;

  constructor(readonly frameBytes: number) {
    if (!Number.isInteger(frameBytes) || frameBytes <= 0) throw new Error(`invalid frame size ${frameBytes}`);
    this.current = Buffer.allocUnsafe(frameBytes);
  }

  /** Bytes of an incomplete frame held. */
  get pending(): number {
    return this.filled;
  }

  push(chunk: Uint8Array, onFrame: (frame: Buffer) => void): void {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.frameBytes - this.filled, chunk.length - offset);
      this.current.set(chunk.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === this.frameBytes) {
        const frame = this.current;
        this.current = Buffer.allocUnsafe(this.frameBytes);
        this.filled = 0;
        onFrame(frame);
      }
    }
  }
}

export interface InputVideoInfo {
  width: number;
  height: number;
  /** Frame rate ffmpeg reports for the input, when it does. */
  fps: number | undefined;
}

/**
 * The size of the first video stream of `Input #0` in ffmpeg's log, as the frames come out of the
 * decoder (a ±90° display rotation, which ffmpeg applies, swaps width and height).
 */
export function parseInputVideo(log: string): InputVideoInfo | undefined {
  const start = log.indexOf('Input #0');
  if (start < 0) return undefined;
  const ends = ['Stream mapping:', 'Output #0'].map((m) => log.indexOf(m, start)).filter((i) => i > 0);
  const section = log.slice(start, ends.length > 0 ? Math.min(...ends) : undefined);
  const lines = section.split(/\r?\n/);
  const at = lines.findIndex((l) => /Stream #0:\d+.*: Video: /.test(l));
  if (at < 0) return undefined;
  const line = lines[at]!;
  const size = /, (\d{1,5})x(\d{1,5})(?=[ ,]|$)/.exec(line);
  if (!size) return undefined;
  let width = Number(size[1]);
  let height = Number(size[2]);
  const fpsMatch = /, ([\d.]+) fps/.exec(line);
  // Side data of this stream (indented lines up to the next stream) may carry a display matrix.
  const rest = lines.slice(at + 1);
  const next = rest.findIndex((l) => /Stream #0:\d+/.test(l));
  const sideData = (next < 0 ? rest : rest.slice(0, next)).join('\n');
  const rotation = /rotation of (-?[\d.]+) degrees/.exec(sideData);
  if (rotation && Math.abs(Math.round(Number(rotation[1])) % 180) === 90) [width, height] = [height, width];
  if (width <= 0 || height <= 0) return undefined;
  return { width, height, fps: fpsMatch ? Number(fpsMatch[1]) : undefined };
}

/** Keeps the last lines of a process's stderr for error messages; bounded memory. */
export class LineTail {
  private partial = '';
  private readonly lines: string[] = [];
  /** Everything up to the first `keepHead` characters, for parsing the stream info. */
  head = '';

  constructor(
    private readonly maxLines = 30,
    private readonly keepHead = 16_384,
  ) {}

  push(text: string): void {
    if (this.head.length < this.keepHead) this.head += text.slice(0, this.keepHead - this.head.length);
    const parts = (this.partial + text).split(/\r?\n|\r/);
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      if (line.trim().length === 0) continue;
      this.lines.push(line);
      if (this.lines.length > this.maxLines) this.lines.shift();
    }
    if (this.partial.length > 4096) this.partial = this.partial.slice(-4096);
  }

  /** The last `maxLines` lines, including an unterminated last one. */
  all(): string[] {
    const lines = this.partial.trim() ? [...this.lines, this.partial] : [...this.lines];
    return lines.slice(-this.maxLines);
  }
}

/**
 * A failure line with what it probably means, where ffmpeg's own words are vague: with redirects
 * off (`-max_redirects 0`) an HTTP redirect ends in a bare "Input/output error". Pure.
 */
export function explainFailure(detail: string, ffmpegArgs: readonly string[]): string {
  const at = ffmpegArgs.indexOf('-max_redirects');
  if (at >= 0 && ffmpegArgs[at + 1] === '0' && /Input\/output error/i.test(detail))
    return `${detail} (if the camera answers with an HTTP redirect: camera.maxRedirects is 0 — allow redirects in the device's config file, or use the final URL)`;
  return detail;
}

/** The most telling line of a failed capture process's log: the last one that reads like an error. */
export function failureReason(lines: readonly string[]): string | undefined {
  const errorish =
    /error|failed|invalid|no such|not found|refused|denied|timed? ?out|unable|cannot|could not|unauthorized|40[134]|busy/i;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (errorish.test(line) && !/^\s*(Stream|Input|Output|Metadata|Duration)/.test(line)) return line;
  }
  return lines.length > 0 ? lines[lines.length - 1]!.trim() : undefined;
}
