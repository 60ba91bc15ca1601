import { MessageChannel, type MessagePort } from 'node:worker_threads';

/**
 * Frees an ArrayBuffer's memory now rather than at V8's next collection of the thread: the buffer
 * is transferred into a message port whose peer is closed, so Node drops the message together
 * with the buffer's memory at once, and the view is left detached (length 0). For the frame loop's
 * per-frame garbage (the capture's pipe reads, the model's outputs once decoded: 1.2 MB a frame
 * for YOLOX), which otherwise waits for a collection — and in a thread whose V8 heap is small that
 * can be tens of MB later (docs/memory.md, "The pipeline worker's heap size").
 *
 * Only a view that covers its whole buffer is released (a slice of a shared pool is left alone);
 * the caller must hold the only reference that is still read.
 */
export class BufferRelease {
  private readonly port: MessagePort;
  private closed = false;
  /**
   * Resolves once the channel is closed (a few ms): from then on a release frees at once; until then
   * the buffers released wait in the channel and go when it closes.
   */
  readonly ready: Promise<void>;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.ready = new Promise((resolve) => port1.once('close', () => resolve()));
    port2.close();
    port1.unref();
    this.port = port1;
  }

  /** Releases the view's buffer; false when it was left alone (part of a larger buffer, empty, closed). */
  release(view: ArrayBufferView): boolean {
    const buffer = view.buffer;
    if (this.closed || !(buffer instanceof ArrayBuffer)) return false;
    if (view.byteOffset !== 0 || view.byteLength !== buffer.byteLength || buffer.byteLength === 0)
      return false;
    this.port.postMessage(null, [buffer]);
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.port.close();
  }
}
