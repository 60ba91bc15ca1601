import type { ServerResponse } from 'node:http';
import type { Frame } from '../camera/types.js';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { annotateFrame } from '../pipeline/annotate.js';
import type { FrameListener, FrameResult } from '../pipeline/pipeline.js';

export const MJPEG_BOUNDARY = 'edgeagentframe';

/** A client that has this much unsent data skips frames instead of buffering more. */
const MAX_PENDING_BYTES = 2 * 1024 * 1024;

export interface StreamOptions {
  maxFps: number;
  quality: number;
  maxWidth?: number;
}

/**
 * The annotated MJPEG stream: inferred frames are drawn and encoded once (at most `maxFps`, only
 * while someone watches) and written to every client; slow clients skip frames, never queue them.
 * With `subscribe`, frames are asked of the pipeline only while watched (pixels then cross from
 * the pipeline worker; otherwise they stay there).
 */
export class MjpegBroadcaster {
  private readonly clients = new Set<ServerResponse>();
  private lastJpeg: Buffer | undefined;
  private lastResult: FrameResult | undefined;
  /** The dashboard asked for a frame recently: keep encoding without stream clients. */
  private wantedUntilMs = Number.NEGATIVE_INFINITY;
  private lastEncodedAtMs = Number.NEGATIVE_INFINITY;
  private encoding = false;
  encoded = 0;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly options: StreamOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly subscribe?: (listener: FrameListener) => () => void,
  ) {}

  /** Subscribes to frames while watched (a client, or a recent `latestFrame`), else lets go. */
  private demand(): void {
    const wanted = this.clients.size > 0 || this.clock.now() <= this.wantedUntilMs;
    if (wanted && !this.unsubscribe && this.subscribe)
      this.unsubscribe = this.subscribe((result, frame) => this.offer(result, frame));
    else if (!wanted && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = undefined;
    }
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Takes over a response: multipart headers, the last frame at once, then every new one. */
  add(res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`,
      'Cache-Control': 'no-store, no-cache, must-revalidate, max-age=0',
      Pragma: 'no-cache',
      Connection: 'close',
      'X-Accel-Buffering': 'no',
    });
    this.clients.add(res);
    this.demand();
    const drop = () => {
      this.clients.delete(res);
      this.demand();
    };
    res.on('close', drop);
    res.on('error', (err) => {
      this.log.debug({ err: errorMessage(err) }, 'stream client error');
      drop();
    });
    if (this.lastJpeg) this.write(res, this.lastJpeg);
  }

  /** Called for every inferred frame; encodes only when due and watched. */
  offer(result: FrameResult, frame: Frame): void {
    const now = this.clock.now();
    if (this.clients.size === 0 && now > this.wantedUntilMs) {
      this.demand();
      return;
    }
    if (this.encoding) return;
    if (now - this.lastEncodedAtMs < 1000 / this.options.maxFps) return;
    this.lastEncodedAtMs = now;
    this.encoding = true;
    annotateFrame(frame, result, { quality: this.options.quality, maxWidth: this.options.maxWidth ?? 1280 })
      .then((jpeg) => {
        this.lastJpeg = jpeg;
        this.lastResult = result;
        this.encoded++;
        for (const res of this.clients) this.write(res, jpeg);
      })
      .catch((err) => this.log.warn({ err: errorMessage(err) }, 'annotating a frame failed'))
      .finally(() => {
        this.encoding = false;
      });
  }

  /**
   * The newest annotated frame with the result drawn on it (one pair, so a caption always
   * describes the picture shown). Asking keeps frames coming for 5 s without stream clients.
   */
  latestFrame(): { jpeg: Buffer; result: FrameResult } | undefined {
    this.wantedUntilMs = this.clock.now() + 5000;
    this.demand();
    return this.lastJpeg && this.lastResult ? { jpeg: this.lastJpeg, result: this.lastResult } : undefined;
  }

  /** Ends every stream (server shutdown). */
  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private write(res: ServerResponse, jpeg: Buffer): void {
    if (res.writableLength > MAX_PENDING_BYTES || res.destroyed) return;
    res.write(`--${MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
    res.write(jpeg);
    res.write('\r\n');
  }
}

/** Splits a multipart MJPEG body into JPEG parts (for tests and clients). Returns the rest. */
export function parseMjpegParts(
  buffer: Buffer,
  boundary = MJPEG_BOUNDARY,
): { parts: Buffer[]; rest: Buffer } {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const start = buffer.indexOf(`--${boundary}\r\n`, offset);
    if (start < 0) break;
    const headerEnd = buffer.indexOf('\r\n\r\n', start);
    if (headerEnd < 0) break;
    const headers = buffer.subarray(start, headerEnd).toString('latin1');
    const length = /Content-Length: (\d+)/i.exec(headers);
    if (!length) throw new Error('MJPEG part without Content-Length');
    const bodyStart = headerEnd + 4;
    const bodyEnd = bodyStart + Number(length[1]);
    if (bodyEnd > buffer.length) break;
    parts.push(buffer.subarray(bodyStart, bodyEnd));
    offset = bodyEnd;
  }
  return { parts, rest: buffer.subarray(offset) };
}
