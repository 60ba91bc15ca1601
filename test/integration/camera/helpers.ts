import { createServer } from 'node:net';
import { createSource, type FrameSource } from '../../../src/camera/index.js';
import type { CameraStateChange, Frame } from '../../../src/camera/types.js';
import { type AgentConfigInput, parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';

/** A source built the way the agent builds it, from a `camera` config section. */
export function sourceFrom(
  camera: NonNullable<AgentConfigInput['camera']>,
  signal?: AbortSignal,
): FrameSource {
  const config = parseConfig({ camera });
  return createSource(config.camera, { log: silentLogger(), ...(signal ? { signal } : {}) });
}

/** Reads `count` frames (or until the source ends), then stops capture. */
export async function take(
  source: FrameSource,
  count: number,
  onFrame?: (f: Frame, i: number) => void,
): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const frame of source.frames()) {
    onFrame?.(frame, frames.length);
    frames.push(frame);
    if (frames.length >= count) break;
  }
  return frames;
}

/** Records state changes. */
export function recordStates(source: FrameSource): CameraStateChange[] {
  const changes: CameraStateChange[] = [];
  source.onStateChange((c) => changes.push(c));
  return changes;
}

export function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (predicate()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(timer);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }
    }, 20);
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}
