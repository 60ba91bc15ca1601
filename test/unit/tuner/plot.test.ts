import { describe, expect, it } from 'vitest';
import { decisionSvg } from '../../../src/tuner/plot.js';
import { selectVariant } from '../../../src/tuner/policy.js';
import { decisionJson } from '../../../src/tuner/report.js';
import type { Decision, Measurement } from '../../../src/tuner/types.js';

const m = (variant: string, p95: number, fidelity: number, sizeBytes: number): Measurement => ({
  variant,
  executionProvider: 'cpu',
  threads: 1,
  variantSha256: 'x'.repeat(64),
  sizeBytes,
  precision: 'fp32',
  status: 'ok',
  latencyMs: { p50: p95, p95, p99: p95, mean: p95, roundP95: [p95, p95] },
  cpuMsPerInference: p95,
  fidelity,
});

function decision(): Decision {
  const s = selectVariant(
    [m('fp32', 60, 1, 5e6), m('int8', 30, 0.96, 1.3e6), m('fp16', 62, 1, 2.5e6), m('prune', 25, 0.5, 1e6)],
    { objective: 'min-latency', latencyP95Ms: 100, fidelityFloor: 0.9, switchMarginPercent: 5 },
  );
  return {
    ...s,
    model: 'squeezenet1.1',
    mode: 'mains',
    deviceFingerprint: 'f',
    catalogueHash: 'c',
    ortVersion: '1.30.0',
    derived: [],
    tookMs: 1,
    decidedAt: 0,
    trigger: 'test',
  };
}

describe('decision SVG', () => {
  it('has both charts, a Pareto front in each and the choice marked in each', () => {
    const svg = decisionSvg(decision());
    expect(svg).toContain('<g id="chart-latency"');
    expect(svg).toContain('<g id="chart-size"');
    expect(svg).toMatch(/<polyline id="pareto-latency" class="pareto-front"[^>]* points="[\d., ]+"/);
    expect(svg).toMatch(/<polyline id="pareto-size" class="pareto-front"/);
    expect(svg).toMatch(/<circle id="chosen-latency" class="chosen-marker"/);
    expect(svg).toMatch(/<circle id="chosen-size" class="chosen-marker"/);
    expect(svg).toContain('int8@cpu/1t');
    expect(svg.match(/class="candidate /g)?.length).toBe(8);
  });
  it('escapes reasons and has no marker without a choice', () => {
    const d = { ...decision(), chosen: null };
    expect(decisionSvg(d)).not.toContain('chosen-marker');
  });
  it('the JSON shape keeps null for absent figures', () => {
    const j = decisionJson(decision());
    expect(j.candidates[0]).toMatchObject({ energyPerInferenceJ: null, memoryBytes: null });
  });

  it("the choice's label stays inside its chart: left of the marker in the right half", () => {
    const d = decision(); // int8 chosen: p95 30 of 62 (left half), size 1.3 of 5 MB (left half)
    const label = (svg: string, id: string) =>
      svg.match(
        new RegExp(
          `<g id="chart-${id}"[\\s\\S]*?<text x="([\\d.]+)" y="[\\d.]+"( text-anchor="end")? font-weight="bold">`,
        ),
      )!;
    const marker = (svg: string, id: string) =>
      Number(svg.match(new RegExp(`id="chosen-${id}"[^>]*cx="([\\d.]+)"`))![1]);
    const left = decisionSvg(d);
    expect(label(left, 'latency')[2]).toBeUndefined();
    expect(Number(label(left, 'latency')[1])).toBeGreaterThan(marker(left, 'latency'));
    // fp32 chosen instead (60 ms, 5 MB): in the right half of both charts.
    const right = decisionSvg({ ...d, chosen: { variant: 'fp32', executionProvider: 'cpu', threads: 1 } });
    for (const id of ['latency', 'size']) {
      expect(label(right, id)[2], id).toBe(' text-anchor="end"');
      expect(Number(label(right, id)[1]), id).toBeLessThan(marker(right, id));
    }
  });
});
