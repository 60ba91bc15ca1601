import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LabelledHistogram } from '../../../src/http/stage-histogram.js';
import { parsePrometheusText } from '../../integration/http/prometheus-text.js';

const BOUNDS = [0.001, 0.01, 0.1, 1, 2.5];

/** Samples as `name{sorted labels} value`, order-free. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [, family] of parsePrometheusText(text))
    for (const s of family.samples) {
      const labels = Object.entries(s.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      out.set(`${s.name}{${labels}}`, s.value);
    }
  return out;
}

describe('LabelledHistogram (the stage histograms kept without prom-client)', () => {
  it('renders what prom-client renders for the same observations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.constantFrom('inference', 'total', 'a "quoted" stage'),
            fc.double({ min: 0, max: 5, noNaN: true }),
          ),
          { maxLength: 60 },
        ),
        async (observations) => {
          const ours = new LabelledHistogram('x_seconds', 'help text', 'stage', BOUNDS);
          const registry = new Registry();
          const theirs = new Histogram({
            name: 'x_seconds',
            help: 'help text',
            labelNames: ['stage'],
            buckets: BOUNDS,
            registers: [registry],
          });
          for (const [stage, v] of observations) {
            ours.observe(stage, v);
            theirs.observe({ stage }, v);
          }
          const a = samples(ours.text());
          const b = samples(await registry.metrics());
          expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
          for (const [k, v] of b) expect(a.get(k)).toBeCloseTo(v, 9);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('ignores values that are not finite and refuses unsorted bounds', () => {
    const h = new LabelledHistogram('y_seconds', 'h', 'stage', [1, 2]);
    h.observe('s', Number.NaN);
    h.observe('s', Number.POSITIVE_INFINITY);
    expect(h.text()).not.toContain('_count');
    h.observe('s', 1.5);
    expect(samples(h.text()).get('y_seconds_count{stage=s}')).toBe(1);
    expect(samples(h.text()).get('y_seconds_bucket{le=1,stage=s}')).toBe(0);
    expect(() => new LabelledHistogram('z', 'h', 'stage', [2, 1])).toThrow(/ascend/);
  });
});
