import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';

/**
 * Hands `port`'s listeners the messages already queued on it, at once. Closing a port drops what
 * it has not delivered yet, and a worker's `exit` can be seen before the messages it posted just
 * before ending (a session's `released`, a probe's answer): drain first, then close.
 *
 * Never on a port that has emitted `close` (from its `close` listeners or later): Node (20.20,
 * 24.22) then dereferences the port's freed queue and the process dies with SIGSEGV
 * (`receiveMessageOnPort` in a `close` listener is enough). Nothing is lost there: a port whose
 * peer closed delivers what was sent before the close first.
 */
export function deliverQueued(port: MessagePort): void {
  for (let queued = receiveMessageOnPort(port); queued; queued = receiveMessageOnPort(port))
    port.emit('message', queued.message);
}
