import { readFileSync } from 'node:fs';
import { DerivationError } from '../errors.js';
import type { Method } from '../methods/index.js';

/**
 * How much memory a derivation needs, decided before it starts, and a watch that stops it when it
 * uses more than it was allowed. The estimate is coarse (linear in the model file and the input
 * tensor, constants measured on the bundled models — docs/memory.md); the watch is what holds.
 */

/** onnxruntime's first session in a process: its code pages, kernel registry and thread pools. */
const RUNTIME_INIT_MB = 50;
/** Copies of the graph alive at once (source bytes, decoded graph, working copy, candidate, sessions). */
const MODEL_COPIES = 10;
/** Activations and outputs of the sessions alive at once, in units of the input tensor (YOLOX-nano: ~60 MB for a 2 MB input). */
const ACTIVATIONS_PER_INPUT = 30;
/** Calibration exposes activations in groups of this many MB (runtime.ts EXPOSED_BYTES_BUDGET). */
const EXPOSED_GROUP_MB = 24;

export interface DerivationSize {
  method: Method;
  /** The source model file. */
  modelBytes: number;
  /** Bytes of one input tensor (float32: 4 × C × H × W). */
  inputBytes: number;
  /** What this process holds already (node, loaded modules). */
  baselineMB: number;
}

/** Estimated peak resident memory (MB) of a derivation in a process now holding `baselineMB`. Pure. */
export function estimateDerivationMB(size: DerivationSize): number {
  const mb = (b: number) => b / 2 ** 20;
  const calibrates = size.method === 'int8-static';
  const estimate =
    size.baselineMB +
    RUNTIME_INIT_MB +
    MODEL_COPIES * mb(size.modelBytes) +
    ACTIVATIONS_PER_INPUT * mb(size.inputBytes) +
    (calibrates ? EXPOSED_GROUP_MB : 0);
  return Math.ceil(estimate);
}

/**
 * Refuses up front when the estimate exceeds the allowed maximum or what the device has available.
 * Pure: the caller reads MemAvailable.
 */
export function checkDerivationMemory(
  what: string,
  estimatedMB: number,
  limits: { maxMemoryMB?: number; availableMB?: number },
): void {
  const { maxMemoryMB, availableMB } = limits;
  if (maxMemoryMB !== undefined && estimatedMB > maxMemoryMB) {
    throw new DerivationError(
      `${what}: needs about ${estimatedMB} MB, more than the allowed ${maxMemoryMB} MB (--max-memory-mb); ` +
        'raise the limit, derive on a larger machine and deploy the variant, or choose a lighter method (int8-weights, fp16)',
    );
  }
  if (availableMB !== undefined && estimatedMB > availableMB) {
    throw new DerivationError(
      `${what}: needs about ${estimatedMB} MB, but the device has ${availableMB} MB available; ` +
        'free memory (stop other services) or derive on a larger machine and deploy the variant',
    );
  }
}

/** MemAvailable of /proc/meminfo text, in MB; undefined when absent. Pure. */
export function parseMemAvailableMB(meminfo: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(meminfo);
  return m ? Math.floor(Number(m[1]) / 1024) : undefined;
}

export function readMemAvailableMB(path = '/proc/meminfo'): number | undefined {
  try {
    return parseMemAvailableMB(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // not Linux: only the explicit limit applies
  }
}

/**
 * Samples this process's resident size and aborts `controller` (with a DerivationError as the
 * reason) once it passes `limitMB`: the limit holds even where the estimate was wrong.
 */
export class MemoryWatch {
  private timer: NodeJS.Timeout | undefined;
  peakMB = 0;

  constructor(
    private readonly limitMB: number,
    private readonly controller: AbortController,
    private readonly rssBytes: () => number = () => process.memoryUsage.rss(),
  ) {}

  start(intervalMs = 100): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    const mb = this.rssBytes() / 2 ** 20;
    this.peakMB = Math.max(this.peakMB, mb);
    if (mb > this.limitMB && !this.controller.signal.aborted) {
      this.controller.abort(
        new DerivationError(
          `derivation stopped: resident memory reached ${Math.round(mb)} MB, over the allowed ${this.limitMB} MB (--max-memory-mb)`,
        ),
      );
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
