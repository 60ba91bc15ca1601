// The tuner's panel on the dashboard: the device's trade-off charts (fidelity vs p95 latency and vs
// file size, Pareto front, the choice ringed) and every candidate with its verdict and reason.
// Separate from app.js: it only reads /api/decision and /api/decision/plot.svg.
(() => {
  const $ = (id) => document.getElementById(id);
  const esc = (s) =>
    String(s).replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
    );
  const num = (v, d = 1) => (v === null || v === undefined ? '–' : Number(v).toFixed(d));

  async function refresh() {
    const panel = $('tuner-panel');
    if (!panel) return;
    const res = await fetch('/api/decision', { credentials: 'same-origin', cache: 'no-store' });
    if (!res.ok) return;
    const d = await res.json();
    if (d.source !== 'tuner' || !Array.isArray(d.candidates)) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    $('tuner-summary').textContent =
      `${d.objective} (${d.mode})${d.met ? '' : ' — constraints NOT met'}: ${d.reason}`;
    const svg = await fetch('/api/decision/plot.svg', { credentials: 'same-origin', cache: 'no-store' });
    // Our own server's SVG, every text in it escaped there.
    if (svg.ok) $('tuner-plot').innerHTML = await svg.text();
    $('tuner-candidates').innerHTML =
      '<tr><th>variant</th><th>provider</th><th class="num">threads</th><th class="num">p50 / p95 / p99 ms</th>' +
      '<th class="num" title="of the per-frame time: preparing the camera frame">prep ms</th><th class="num">CPU ms</th><th class="num">J</th><th class="num">MB</th><th class="num">fidelity</th><th>verdict</th><th>reason</th></tr>' +
      d.candidates
        .map(
          (c) =>
            `<tr class="${c.verdict === 'chosen' ? 'active' : ''}"><td>${esc(c.variant)}</td><td>${esc(c.executionProvider)}</td>` +
            `<td class="num">${c.threads}</td>` +
            `<td class="num">${c.latencyMs ? `${num(c.latencyMs.p50)} / ${num(c.latencyMs.p95)} / ${num(c.latencyMs.p99)}` : '–'}</td>` +
            `<td class="num">${num(c.prepareMs, 2)}</td>` +
            `<td class="num">${num(c.cpuMsPerInference)}</td><td class="num">${num(c.energyPerInferenceJ, 3)}</td>` +
            `<td class="num">${c.memoryBytes === null ? '–' : num(c.memoryBytes / 1048576, 0)}</td>` +
            `<td class="num">${num(c.fidelity, 3)}</td><td>${esc(c.verdict)}</td><td>${esc(c.reason)}</td></tr>`,
        )
        .join('');
  }

  refresh().catch(() => undefined);
  setInterval(() => refresh().catch(() => undefined), 30_000);
})();
