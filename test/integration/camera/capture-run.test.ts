import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BufferRelease } from '../../../src/buffer-release.js';
import { CaptureRun } from '../../../src/camera/capture-process.js';
import type { Frame } from '../../../src/camera/types.js';
import { systemClock } from '../../../src/clock.js';

// A real process writes raw frames into a real pipe (node standing in for ffmpeg: the command and
// the frame size are given, so no ffmpeg log is needed). 128×96 RGB frames are 36 864 bytes: above the
// size Buffer takes from its shared pool (4 KiB on Node 20, 32 KiB on Node 24), so each frame has a
// buffer of its own, as a camera's frames do.
const W = 128;
const H = 96;
const BYTES = W * H * 3;
const COUNT = 20;
// All frames in one write: the pipe's reads are 64 KiB chunks, never a frame's size.
const WRITER = `const b = Buffer.alloc(${COUNT * BYTES}); for (let i = 0; i < ${COUNT}; i++) b.fill(i, i * ${BYTES}, (i + 1) * ${BYTES}); process.stdout.write(b);`;

afterEach(() => {
  vi.restoreAllMocks();
});

/** A capture run of `command args` standing in for ffmpeg (frame size given, so no log is parsed). */
function startRun(command: string, args: string[], lossless = false): CaptureRun {
  return new CaptureRun(
    {
      command: {
        ffmpeg: { command, args },
        pixelFormat: 'rgb24',
        sourceSize: { width: W, height: H },
        endsOnCleanExit: true,
      },
      target: undefined,
      origin: 'test',
      firstSeq: 0,
      killTimeoutMs: 1000,
      ...(lossless ? { lossless } : {}),
    },
    { clock: systemClock, redact: (t) => t },
  );
}

describe('CaptureRun', () => {
  it('a live run frees the frames its reader never took, and only those', async () => {
    const released: ArrayBufferView[] = [];
    const original = BufferRelease.prototype.release;
    vi.spyOn(BufferRelease.prototype, 'release').mockImplementation(function (this: BufferRelease, view) {
      const size = view.byteLength;
      const freed = original.call(this, view);
      if (freed && size === BYTES) released.push(view);
      return freed;
    });
    const run = startRun(process.execPath, ['-e', WRITER]);
    // The reader is slower than the camera: it takes nothing until the process has ended.
    const end = await run.ended;
    expect(end.clean).toBe(true);
    const kept: Frame[] = [];
    for (let next = await run.frames.next(); !next.done; next = await run.frames.next())
      kept.push(next.value);

    // The queue holds the two newest; the 18 before them were dropped — and freed at once.
    expect(kept.map((f) => f.seq)).toEqual([COUNT - 2, COUNT - 1]);
    expect(run.frames.dropped).toBe(COUNT - 2);
    expect(released).toHaveLength(COUNT - 2);
    for (const view of released) expect(view.byteLength).toBe(0); // detached: its memory is gone
    // What the reader got is untouched.
    for (const f of kept) {
      expect(f.ownsBuffer).toBe(true);
      expect(f.data.byteLength).toBe(BYTES);
      expect(f.data.every((v) => v === f.seq)).toBe(true);
    }
  });
});

describe('CaptureRun, lossless (a file read as fast as the reader goes)', () => {
  it('hands over every frame even when the process has exited with frames still in the pipe', async () => {
    const run = startRun(process.execPath, ['-e', WRITER], true);
    let exited = false;
    void run.ended.then(() => (exited = true));
    // A slow reader: the process writes its last bytes and exits while the pipe still holds frames.
    const seqs: number[] = [];
    for (let next = await run.frames.next(); !next.done; next = await run.frames.next()) {
      seqs.push(next.value.seq);
      expect(next.value.data.every((v) => v === next.value.seq)).toBe(true);
      await new Promise((r) => setTimeout(r, 15));
    }
    expect(seqs).toEqual(Array.from({ length: COUNT }, (_, i) => i));
    expect(exited).toBe(true);
    expect((await run.ended).clean).toBe(true);
  });

  it('stops promptly with a paused pipe and a leftover process still holding it open', async () => {
    // The shell leaves a child behind that inherited the pipe: the pipe does not close when the
    // writer exits. The reader takes nothing, so the writer is paused on a full pipe.
    const dir = await mkdtemp(join(tmpdir(), 'capture-run-'));
    const pidFile = join(dir, 'holder.pid');
    const script = `sleep 60 & echo $! > ${pidFile}; exec "${process.execPath}" -e '${WRITER}'`;
    const run = startRun('/bin/sh', ['-c', script], true);
    await vi.waitFor(() => expect(run.frames.full).toBe(true));
    const holder = Number(await readFile(pidFile, 'utf8'));
    try {
      const end = await run.stop('shutdown');
      expect(end).toMatchObject({ reason: 'shutdown', stopped: true });
      // The stop did not wait for the pipe's other holder: it is still there.
      expect(() => process.kill(holder, 0)).not.toThrow();
    } finally {
      process.kill(holder, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
