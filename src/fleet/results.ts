import type { InferenceResult } from '../inference/types.js';

export interface ResultsPolicy {
  enabled: boolean;
  /** 0 or 1. */
  qos: number;
  maxPerS: number;
  mode: 'every' | 'on-change';
}

export interface ResultMessage {
  ts: number;
  seq: number;
  origin?: string;
  model: string;
  variant: string;
  task: 'classification' | 'detection';
  imageWidth: number;
  imageHeight: number;
  timings: InferenceResult['timings'];
  detections?: InferenceResult['detections'];
  classes?: InferenceResult['classes'];
}

/**
 * What counts as "the same result" in on-change mode: the labels, boxes rounded to whole pixels and
 * scores rounded to 2 decimals — so sensor noise in the last digits does not count as a change.
 */
export function resultSignature(
  r: Pick<ResultMessage, 'model' | 'variant' | 'task' | 'detections' | 'classes'>,
): string {
  const parts =
    r.task === 'detection'
      ? (r.detections ?? []).map(
          (d) => `${d.classId}:${d.score.toFixed(2)}:${d.box.map((v) => Math.round(v)).join(',')}`,
        )
      : (r.classes ?? []).map((c) => `${c.classId}:${c.score.toFixed(2)}`);
  return `${r.model}/${r.variant}|${parts.join(';')}`;
}

/**
 * Decides which results go out: at most `maxPerS` a second and, in on-change mode, never the same
 * result twice in a row. Pure apart from the times it is given.
 */
export class ResultsGate {
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private lastSignature: string | undefined;
  skippedSame = 0;
  skippedRate = 0;

  constructor(private policy: ResultsPolicy) {}

  configure(policy: ResultsPolicy): void {
    this.policy = policy;
    this.lastSignature = undefined;
  }

  get qos(): 0 | 1 {
    return this.policy.qos === 1 ? 1 : 0;
  }

  /** True when this result should be published at `nowMs`; records it as sent if so. */
  offer(result: ResultMessage, nowMs: number): boolean {
    if (!this.policy.enabled) return false;
    const signature = this.policy.mode === 'on-change' ? resultSignature(result) : undefined;
    if (signature !== undefined && signature === this.lastSignature) {
      this.skippedSame++;
      return false;
    }
    if (nowMs - this.lastSentAt < 1000 / this.policy.maxPerS) {
      this.skippedRate++;
      return false;
    }
    this.lastSentAt = nowMs;
    this.lastSignature = signature;
    return true;
  }
}
