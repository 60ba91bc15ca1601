// The battery plan's chart on the dashboard (docs/battery.md): energy left over time, the battery's
// own readings (measured) against each plan's predicted line (planned: from the energy left when it
// was made, at its draw, until the next re-plan or its predicted end), and the target's end.
// Separate from app.js: app.js calls window.batteryPanel(plan) while a battery plan is in force;
// this reads /api/battery (at most every 30 s) and draws SVG from numbers only.
(() => {
  const $ = (id) => document.getElementById(id);
  const W = 420;
  const H = 200;
  const PAD = { l: 40, r: 10, t: 10, b: 26 };
  let lastFetch = 0;
  let busy = false;

  function chart(b) {
    const hist = Array.isArray(b.history) ? b.history : [];
    const plans = (Array.isArray(b.replans) ? b.replans : []).filter(
      (r) => r.trigger !== 'mains' && typeof r.remainingWh === 'number' && typeof r.averageW === 'number',
    );
    if (hist.length < 1 && plans.length < 1) return '';
    const t0 = Math.min(...hist.map((p) => p.atMs), ...plans.map((p) => p.atMs));
    const now = Math.max(...hist.map((p) => p.atMs), ...plans.map((p) => p.atMs));
    const target = typeof b.targetEndMs === 'number' ? b.targetEndMs : now;
    const lastPlan = plans[plans.length - 1];
    const t1 = Math.max(
      now,
      target,
      lastPlan ? Math.min(lastPlan.predictedEndMs, t0 + 3 * (target - t0 || 1)) : now,
    );
    const whMax = Math.max(1e-6, ...hist.map((p) => p.wh), ...plans.map((p) => p.remainingWh));
    const x = (t) => PAD.l + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD.l - PAD.r);
    const y = (wh) => H - PAD.b - (Math.max(0, wh) / whMax) * (H - PAD.t - PAD.b);
    const pt = (t, wh) => `${x(t).toFixed(1)},${y(wh).toFixed(1)}`;

    const measured = hist.map((p) => pt(p.atMs, p.wh)).join(' ');
    // Each plan's predicted line, until the next plan (or its predicted end / the empty battery).
    const segments = plans.map((p, i) => {
      const next = plans[i + 1];
      const emptyAt = p.averageW > 0 ? p.atMs + (p.remainingWh / p.averageW) * 3.6e6 : t1;
      const end = Math.min(next ? next.atMs : t1, emptyAt, t1);
      const whEnd = p.remainingWh - (p.averageW * (end - p.atMs)) / 3.6e6;
      return `<line class="planned" data-source="${p.energySource === 'measured' ? 'measured' : 'estimated'}" x1="${x(p.atMs).toFixed(1)}" y1="${y(p.remainingWh).toFixed(1)}" x2="${x(end).toFixed(1)}" y2="${y(whEnd).toFixed(1)}" stroke="#d29922" stroke-width="1.5" stroke-dasharray="5 3"/>`;
    });
    const hours = (t1 - t0) / 3.6e6;
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
      const t = t0 + f * (t1 - t0);
      return `<text x="${x(t).toFixed(1)}" y="${H - 8}" text-anchor="middle">${(f * hours).toFixed(1)} h</text>`;
    });
    return [
      `<svg id="battery-svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="battery energy left: measured versus planned">`,
      `<line x1="${PAD.l}" y1="${H - PAD.b}" x2="${W - PAD.r}" y2="${H - PAD.b}" stroke="#2d3742"/>`,
      `<line x1="${PAD.l}" y1="${PAD.t}" x2="${PAD.l}" y2="${H - PAD.b}" stroke="#2d3742"/>`,
      `<text x="${PAD.l - 4}" y="${PAD.t + 8}" text-anchor="end">${whMax.toFixed(0)}</text>`,
      `<text x="${PAD.l - 4}" y="${H - PAD.b}" text-anchor="end">0 Wh</text>`,
      ...ticks,
      `<line class="target" x1="${x(target).toFixed(1)}" y1="${PAD.t}" x2="${x(target).toFixed(1)}" y2="${H - PAD.b}" stroke="#8b98a5" stroke-dasharray="2 3"/>`,
      ...segments,
      measured
        ? `<polyline class="measured" points="${measured}" fill="none" stroke="#3fb950" stroke-width="2"/>`
        : '',
      `<text x="${W - PAD.r}" y="${PAD.t + 8}" text-anchor="end">— measured · - - planned · ┆ target</text>`,
      '</svg>',
    ].join('');
  }

  async function refresh(plan) {
    const box = $('battery-chart');
    if (!box) return;
    if (!plan) {
      box.hidden = true;
      return;
    }
    if (busy || Date.now() - lastFetch < 30_000) return;
    busy = true;
    try {
      const res = await fetch('/api/battery', { credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) return;
      const b = await res.json();
      lastFetch = Date.now();
      const svg = chart(b);
      box.innerHTML = svg;
      box.hidden = !svg;
      const src = b.plan?.energy?.source;
      box.dataset.points = String(Array.isArray(b.history) ? b.history.length : 0);
      box.title = src ? `energy model: ${src}` : '';
    } finally {
      busy = false;
    }
  }

  window.batteryPanel = (plan) => {
    refresh(plan).catch(() => undefined);
  };
})();
