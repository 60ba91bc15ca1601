import type { Decision } from './types.js';
import { candidateLabel, sameCandidate } from './types.js';

/**
 * The device's own trade-off charts as one SVG: fidelity vs p95 latency and fidelity vs file size,
 * every measured candidate a dot, the Pareto front a line, the choice a ring. Hand-written SVG: no
 * chart library on a device. Elements carry ids/classes (`chart-latency`, `chart-size`,
 * `pareto-front`, `chosen-marker`) so tests and the dashboard can find them.
 */
export function decisionSvg(d: Decision): string {
  const W = 460;
  const H = 320;
  const measured = d.candidates.filter((c) => c.latencyMs && c.fidelity !== undefined);
  const charts = [
    chart(d, measured, 'latency', 'p95 latency (ms)', (c) => c.latencyMs!.p95, 'latency-fidelity', 0, W, H),
    chart(d, measured, 'size', 'file size (MB)', (c) => c.sizeBytes / 1048576, 'size-fidelity', W, W, H),
  ];
  const title = `${esc(d.model)} on this device — ${esc(d.objective)} (${esc(d.mode)}): ${d.chosen ? esc(candidateLabel(d.chosen)) : 'no choice'}${d.met ? '' : ' — constraints NOT met'}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 30}" viewBox="0 0 ${2 * W} ${H + 30}" font-family="sans-serif" font-size="11">`,
    `<title>${title}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="18" font-size="13" font-weight="bold">${title}</text>`,
    ...charts,
    '</svg>',
  ].join('\n');
}

type C = Decision['candidates'][number];

function chart(
  d: Decision,
  points: C[],
  id: string,
  xLabel: string,
  x: (c: C) => number,
  front: 'latency-fidelity' | 'size-fidelity',
  offsetX: number,
  W: number,
  H: number,
): string {
  const m = { l: 50, r: 15, t: 40, b: 40 };
  const xs = points.map(x);
  const ys = points.map((c) => c.fidelity!);
  const xMax = Math.max(1e-9, ...xs) * 1.1;
  const yMin = Math.min(0.9, ...ys) - 0.02;
  const px = (v: number) => offsetX + m.l + (v / xMax) * (W - m.l - m.r);
  const py = (v: number) => 30 + m.t + (1 - (v - yMin) / (1.0 + 0.01 - yMin)) * (H - m.t - m.b);
  const out: string[] = [`<g id="chart-${id}" class="chart">`];
  out.push(
    `<text x="${offsetX + W / 2}" y="${30 + m.t - 12}" text-anchor="middle" font-weight="bold">fidelity vs ${esc(xLabel)}</text>`,
  );
  out.push(
    `<line x1="${px(0)}" y1="${py(yMin)}" x2="${px(xMax)}" y2="${py(yMin)}" stroke="#333"/>`,
    `<line x1="${px(0)}" y1="${py(yMin)}" x2="${px(0)}" y2="${py(1.01)}" stroke="#333"/>`,
    `<text x="${offsetX + W / 2}" y="${30 + H - 8}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="${offsetX + 12}" y="${py((1 + yMin) / 2)}" transform="rotate(-90 ${offsetX + 12} ${py((1 + yMin) / 2)})" text-anchor="middle">fidelity</text>`,
  );
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const v = t * xMax;
    out.push(`<text x="${px(v)}" y="${py(yMin) + 14}" text-anchor="middle" fill="#555">${fmt(v)}</text>`);
  }
  for (const t of [0, 0.5, 1]) {
    const v = yMin + t * (1 - yMin);
    out.push(`<text x="${px(0) - 4}" y="${py(v) + 4}" text-anchor="end" fill="#555">${v.toFixed(2)}</text>`);
  }
  if (d.constraints.fidelityFloor > yMin)
    out.push(
      `<line class="floor" x1="${px(0)}" y1="${py(d.constraints.fidelityFloor)}" x2="${px(xMax)}" y2="${py(d.constraints.fidelityFloor)}" stroke="#c00" stroke-dasharray="4 3"/>`,
    );
  if (id === 'latency' && d.constraints.latencyP95Ms !== undefined && d.constraints.latencyP95Ms < xMax)
    out.push(
      `<line class="budget" x1="${px(d.constraints.latencyP95Ms)}" y1="${py(yMin)}" x2="${px(d.constraints.latencyP95Ms)}" y2="${py(1.01)}" stroke="#c00" stroke-dasharray="4 3"/>`,
    );
  const onFront = d.pareto
    .filter((p) => p.fronts.includes(front))
    .map((p) => points.find((c) => sameCandidate(c, p)))
    .filter((c): c is C => !!c)
    .sort((a, b) => x(a) - x(b));
  if (onFront.length > 0)
    out.push(
      `<polyline id="pareto-${id}" class="pareto-front" fill="none" stroke="#1f77b4" stroke-width="2" points="${onFront.map((c) => `${px(x(c)).toFixed(1)},${py(c.fidelity!).toFixed(1)}`).join(' ')}"/>`,
    );
  for (const c of points) {
    const colour = c.verdict === 'violates' ? '#d62728' : '#2ca02c';
    out.push(
      `<circle class="candidate ${c.verdict}" cx="${px(x(c)).toFixed(1)}" cy="${py(c.fidelity!).toFixed(1)}" r="4" fill="${colour}"><title>${esc(candidateLabel(c))}: ${esc(c.reason)}</title></circle>`,
    );
  }
  const chosen = points.find((c) => d.chosen && sameCandidate(c, d.chosen));
  if (chosen) {
    const cx = px(x(chosen)).toFixed(1);
    const cy = py(chosen.fidelity!).toFixed(1);
    out.push(
      `<circle id="chosen-${id}" class="chosen-marker" cx="${cx}" cy="${cy}" r="9" fill="none" stroke="#000" stroke-width="2"/>`,
      // Right of the marker, or left of it in the chart's right half (the label stays inside).
      Number(cx) > offsetX + W / 2
        ? `<text x="${Number(cx) - 11}" y="${Number(cy) - 8}" text-anchor="end" font-weight="bold">${esc(candidateLabel(chosen))}</text>`
        : `<text x="${Number(cx) + 11}" y="${Number(cy) - 8}" font-weight="bold">${esc(candidateLabel(chosen))}</text>`,
    );
  }
  out.push('</g>');
  return out.join('\n');
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
