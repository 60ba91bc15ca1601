import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  explainFailure,
  FrameAssembler,
  failureReason,
  LineTail,
  parseInputVideo,
} from '../../../src/camera/ffmpeg-output.js';
import { FIXTURES } from '../../helpers/paths.js';

const log = (name: string) => readFileSync(path.join(FIXTURES, 'camera', name), 'utf8');

describe('FrameAssembler', () => {
  it('cuts any chunking of a byte stream into the same frames, in order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 40 }),
        (frameBytes, frames, cuts) => {
          const total = frameBytes * frames + Math.min(3, frameBytes - 1); // a partial frame at the end
          const stream = Uint8Array.from({ length: total }, (_, i) => (i * 7 + 3) % 251);
          const out: Buffer[] = [];
          const assembler = new FrameAssembler(frameBytes);
          let offset = 0;
          for (let i = 0; offset < total; i++) {
            const size = cuts[i % cuts.length]!;
            assembler.push(stream.subarray(offset, offset + size), (f) => out.push(f));
            offset += size;
          }
          expect(out.length).toBe(frames);
          for (let f = 0; f < frames; f++) {
            expect(
              Buffer.compare(out[f]!, Buffer.from(stream.subarray(f * frameBytes, (f + 1) * frameBytes))),
            ).toBe(0);
          }
          expect(assembler.pending).toBe(total - frames * frameBytes);
        },
      ),
    );
  });

  it('hands out buffers the consumer may keep (not overwritten by later frames)', () => {
    const frames: Buffer[] = [];
    const a = new FrameAssembler(4);
    a.push(Uint8Array.of(1, 1, 1, 1, 2, 2, 2, 2), (f) => frames.push(f));
    expect([...frames[0]!]).toEqual([1, 1, 1, 1]);
    expect([...frames[1]!]).toEqual([2, 2, 2, 2]);
  });
});

describe('parseInputVideo (captured ffmpeg 5.1 logs)', () => {
  it('reads the input video size and rate, not the output one', () => {
    expect(parseInputVideo(log('ffmpeg-file-640x480.stderr.txt'))).toEqual({
      width: 640,
      height: 480,
      fps: 8,
    });
  });

  it('swaps width and height for a ±90° display rotation (ffmpeg applies it)', () => {
    expect(parseInputVideo(log('ffmpeg-rotated-90.stderr.txt'))).toMatchObject({ width: 480, height: 640 });
  });

  it('is undefined while the stream info has not been written yet', () => {
    const text = log('ffmpeg-file-640x480.stderr.txt');
    expect(parseInputVideo(text.slice(0, text.indexOf('Stream #0:0')))).toBeUndefined();
    expect(parseInputVideo('')).toBeUndefined();
  });
});

describe('failureReason', () => {
  it.each([
    ['ffmpeg-missing-file.stderr.txt', '/nonexistent.mp4: No such file or directory'],
    ['ffmpeg-v4l2-missing.stderr.txt', '/dev/video9: No such file or directory'],
    ['ffmpeg-rtsp-refused.stderr.txt', 'rtsp://127.0.0.1:8554/cam: Connection refused'],
  ])('%s → the line that says what went wrong', (file, expected) => {
    const tail = new LineTail();
    tail.push(log(file));
    expect(failureReason(tail.all())).toBe(expected);
  });
});

describe('LineTail', () => {
  it('keeps the last lines across chunk borders and the head for parsing', () => {
    const tail = new LineTail(3, 10);
    tail.push('one\ntw');
    tail.push('o\nthree\r\nfour\n\nfive');
    expect(tail.all()).toEqual(['three', 'four', 'five']);
    expect(tail.head).toBe('one\ntwo\nth');
  });
});

describe('explainFailure', () => {
  it('says a bare I/O error with redirects off may be a redirect; leaves other lines alone', () => {
    const line = 'http://cam/a.mjpg: Input/output error';
    expect(explainFailure(line, ['-max_redirects', '0', '-i', 'x'])).toMatch(/camera\.maxRedirects is 0/);
    expect(explainFailure(line, ['-max_redirects', '2', '-i', 'x'])).toBe(line);
    expect(explainFailure(line, ['-i', 'x'])).toBe(line);
    expect(explainFailure('Connection refused', ['-max_redirects', '0'])).toBe('Connection refused');
  });
});
