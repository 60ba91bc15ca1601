/** One progress report of long work: which stage, how far, and an optional note. */
export interface Progress {
  stage:
    | 'load-frames'
    | 'calibrate'
    | 'quantize'
    | 'sensitivity'
    | 'fidelity'
    | 'reference'
    | 'derive'
    | 'write';
  done: number;
  total: number;
  message?: string;
}

export type ProgressFn = (p: Progress) => void;

/**
 * A terminal renderer for progress: one line per stage, rewritten in place on a TTY and printed at
 * most every `everyMs` (plus at the end of each stage) elsewhere, so logs stay readable.
 */
export function terminalProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  everyMs = 1000,
): ProgressFn {
  let lastStage = '';
  let lastAt = 0;
  return (p) => {
    const now = Date.now();
    const finished = p.done >= p.total;
    const line = `${p.stage} ${p.done}/${p.total}${p.message ? ` ${p.message}` : ''}`;
    if (stream.isTTY) {
      stream.write(`\r\x1b[2K${line}${finished ? '\n' : ''}`);
      return;
    }
    if (p.stage !== lastStage || finished || now - lastAt >= everyMs) {
      stream.write(`${line}\n`);
      lastStage = p.stage;
      lastAt = now;
    }
  };
}
