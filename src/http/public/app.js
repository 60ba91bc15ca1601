// edge-agent dashboard: plain script, no build step. Polls the JSON API, shows the latest annotated
// frame with its own caption, draws latency (p50/p95) and fps charts with uPlot — starting from
// the stored history — and the accuracy-vs-latency trade-off as SVG. Panels: panels.js.

const POINTS = 600; // ten minutes of history, then one point per poll
const series = { t: [], inference: [], inferenceP95: [], totalP95: [], fps: [], captureFps: [] };
let latencyChart;
let fpsChart;

const $ = (id) => document.getElementById(id);
const fmt = (v, digits = 1) =>
  v === undefined || v === null || Number.isNaN(v) ? '–' : Number(v).toFixed(digits);
const esc = (s) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );

async function api(path) {
  const res = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 401) throw Object.assign(new Error('unauthorized'), { status: 401 });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(body.error || res.statusText), { status: res.status });
  return body;
}

function rows(table, pairs) {
  table.innerHTML = pairs.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('');
}

function makeChart(el, labels, colors, unit) {
  const opts = {
    width: Math.max(280, el.clientWidth),
    height: 160,
    scales: { x: { time: true } },
    axes: [
      { stroke: '#8b98a5', grid: { stroke: '#2d3742' } },
      { stroke: '#8b98a5', grid: { stroke: '#2d3742' }, size: 50 },
    ],
    series: [
      {},
      ...labels.map((label, i) => ({
        label,
        stroke: colors[i],
        width: 2,
        value: (_u, v) => (v == null ? '–' : `${v.toFixed(1)} ${unit}`),
      })),
    ],
  };
  return new uPlot(opts, [[], ...labels.map(() => [])], el);
}

function push(key, value) {
  series[key].push(value);
  if (series[key].length > POINTS) series[key].shift();
}

function redraw() {
  latencyChart.setData([series.t, series.inference, series.inferenceP95, series.totalP95]);
  fpsChart.setData([series.t, series.fps, series.captureFps]);
}

/** The charts start from the telemetry history in the store, not empty. */
async function loadHistory() {
  try {
    const h = await api('/api/metrics/history?minutes=10');
    h.t.forEach((t, i) => {
      push('t', t);
      push('inference', h.latencyInferenceP50Ms[i]);
      push('inferenceP95', h.latencyInferenceP95Ms[i]);
      push('totalP95', h.latencyTotalP95Ms[i]);
      push('fps', h.fps[i]);
      push('captureFps', null);
    });
    redraw();
  } catch (err) {
    $('stream-note').textContent = `(history: ${err.message})`;
  }
}

function showStatus(s) {
  $('version').textContent = `v${s.version}${s.deviceId ? ` · ${s.deviceId}` : ''} · up ${s.uptimeS} s`;
  const cam = $('camera-state');
  cam.textContent = `camera: ${s.camera.state} (${s.camera.quality})`;
  cam.className = `chip ${s.camera.state}`;
  $('model').textContent = `model: ${s.model.name}/${s.model.variant} on ${s.model.executionProvider || '?'}`;
  $('pacing').textContent = s.pipeline.pacing.description;

  const lat = s.pipeline.latency;
  push('t', Date.now() / 1000);
  push('inference', lat.inferenceMs.count ? lat.inferenceMs.p50Ms : null);
  push('inferenceP95', lat.inferenceMs.count ? lat.inferenceMs.p95Ms : null);
  push('totalP95', lat.totalMs.count ? lat.totalMs.p95Ms : null);
  push('fps', s.pipeline.fps);
  push('captureFps', s.pipeline.captureFps);
  redraw();

  const c = s.pipeline.counters;
  rows($('counters'), [
    [
      'frames',
      `${c.captured} captured · ${c.processed} processed · ${c.dropped} dropped · ${c.skipped} skipped · ${c.stale} stale · ${c.failed} failed`,
    ],
    ['inference p50 / p95', `${fmt(lat.inferenceMs.p50Ms)} / ${fmt(lat.inferenceMs.p95Ms)} ms`],
    ['preprocess p50 (path)', `${fmt(lat.preprocessMs.p50Ms, 2)} ms (${s.pipeline.preparePath || '–'})`],
    ['postprocess p50', `${fmt(lat.postprocessMs.p50Ms, 2)} ms`],
    ['capture → result p50', `${fmt(lat.totalMs.p50Ms)} ms`],
    ['event-loop lag p99', `${fmt(s.pipeline.eventLoopLag.p99Ms)} ms`],
    ...(s.pipeline.lastError ? [['last error', s.pipeline.lastError]] : []),
  ]);
  const cs = s.camera;
  rows($('camera'), [
    ['source', cs.source],
    ['state', `${cs.state} since ${new Date(cs.sinceMs).toLocaleTimeString()}`],
    [
      'image',
      cs.width
        ? `${cs.width}×${cs.height}${cs.preparedFor ? ` → ${cs.preparedFor.width}×${cs.preparedFor.height} in capture` : ''}`
        : '–',
    ],
    [
      'quality',
      `${cs.quality}: ${cs.reconnectsLastHour} reconnects, ${cs.stallsLastHour} stalls in the last hour`,
    ],
    ...(cs.lastError ? [['last error', cs.lastError]] : []),
  ]);
  const r = s.readings;
  if (!r) rows($('readings'), [['readings', 'not available on this device']]);
  else {
    const temps = Object.entries(r.temperaturesC || {})
      .map(([z, v]) => `${z} ${fmt(v)} °C`)
      .join(', ');
    rows($('readings'), [
      ['power source', r.onBattery === undefined ? '–' : r.onBattery ? 'battery' : 'mains'],
      ['battery', r.batteryPercent === undefined ? '–' : `${fmt(r.batteryPercent, 0)} %`],
      ['power draw', r.powerW === undefined ? '–' : `${fmt(r.powerW, 2)} W`],
      ...(r.batteryPlan
        ? [
            [
              'battery plan',
              `${r.batteryPlan.predictedHours === undefined ? '?' : fmt(r.batteryPlan.predictedHours, 1)} h left of the ${r.batteryPlan.targetHours} h target${r.batteryPlan.met ? '' : ' (NOT reachable)'}; drain planned ${fmt(r.batteryPlan.plannedW, 2)} W, measured ${r.batteryPlan.measuredW === undefined ? '–' : `${fmt(r.batteryPlan.measuredW, 2)} W`}${r.batteryPlan.energySource ? ` (energy model ${r.batteryPlan.energySource})` : ''}`,
            ],
          ]
        : []),
      ['temperatures', temps || '–'],
    ]);
  }
  // The planned vs measured drain chart (battery-panel.js), while a battery plan is in force.
  window.batteryPanel?.(r?.batteryPlan);
}

function caption(r) {
  const what =
    r.task === 'detection'
      ? `${(r.detections || []).length} detections: ${(r.detections || [])
          .slice(0, 5)
          .map((d) => `${d.label} ${Math.round(d.score * 100)}%`)
          .join(', ')}`
      : (r.classes || [])
          .slice(0, 3)
          .map((c) => `${c.label} ${(c.score * 100).toFixed(1)}%`)
          .join(', ');
  return `${r.model}/${r.variant}: ${what}`;
}

/** The picture and its caption come in one answer, so the caption describes what is shown. */
async function liveLoop() {
  for (;;) {
    const started = Date.now();
    try {
      const f = await api('/api/live/frame');
      const img = $('stream');
      img.src = `data:image/jpeg;base64,${f.jpegBase64}`;
      img.dataset.seq = String(f.seq);
      $('latest').dataset.seq = String(f.seq);
      $('latest').textContent = `frame #${f.seq} (${f.origin}), ${caption(f.result)}`;
      $('stream-note').textContent = '';
    } catch (err) {
      if (err.status === 401) return showLogin();
      $('stream-note').textContent =
        err.status === 404 ? '(waiting for the first frame)' : `(${err.message})`;
    }
    await new Promise((r) => setTimeout(r, Math.max(200, 400 - (Date.now() - started))));
  }
}

async function showDecision() {
  try {
    const d = await api('/api/decision');
    const when = d.ts ? `, ${new Date(d.ts).toLocaleString()}` : '';
    $('decision').innerHTML =
      `<b>${esc(d.model)}/${esc(d.variant)}</b> — ${esc(d.reason || '')}` +
      (d.source ? ` <span class="muted">(${esc(d.source)}${esc(when)})</span>` : '');
  } catch (err) {
    $('decision').textContent = err.message;
  }
}

async function showModels() {
  const { models } = await api('/api/models');
  const all = models.flatMap((m) => m.variants.map((v) => ({ model: m.name, task: m.task, ...v })));
  $('variants').innerHTML =
    '<tr><th>model</th><th>variant</th><th>precision</th><th class="num">size</th><th>origin</th><th class="num">latency p50</th><th class="num">fidelity</th><th class="num">accuracy</th></tr>' +
    all
      .map(
        (v) =>
          `<tr class="${v.active ? 'active' : ''}"><td>${esc(v.model)}</td><td>${esc(v.id)}${v.active ? ' ●' : ''}</td><td>${esc(v.precision)}</td>` +
          `<td class="num">${fmt(v.bytes / 1e6, 2)} MB</td><td>${esc(v.origin)}</td>` +
          `<td class="num">${v.latencyP50Ms === undefined ? '–' : `${fmt(v.latencyP50Ms)} ms`}</td>` +
          `<td class="num">${fmt(v.fidelity, 3)}</td><td class="num">${fmt(v.accuracy, 3)}</td></tr>`,
      )
      .join('');
  drawTradeoff(all);
}

/** Accuracy (fidelity where no accuracy is known) against measured latency, one dot per variant. */
function drawTradeoff(variants) {
  const svg = $('tradeoff');
  const pts = variants
    .map((v) => ({ ...v, y: v.accuracy ?? v.fidelity }))
    .filter((v) => v.latencyP50Ms !== undefined && v.y !== undefined);
  const missing = variants.length - pts.length;
  $('tradeoff-note').textContent =
    `accuracy (fidelity where no labelled accuracy) vs measured latency p50` +
    (missing ? ` · ${missing} variant(s) not measured yet` : '');
  const W = 420,
    H = 280,
    L = 44,
    B = 30,
    T = 10,
    R = 10;
  const maxX = Math.max(1, ...pts.map((p) => p.latencyP50Ms)) * 1.15;
  const x = (v) => L + (v / maxX) * (W - L - R);
  const y = (v) => H - B - v * (H - B - T);
  const parts = [
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#8b98a5"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#8b98a5"/>`,
  ];
  for (const f of [0, 0.25, 0.5, 0.75, 1])
    parts.push(`<text x="${L - 6}" y="${y(f) + 3}" text-anchor="end">${f.toFixed(2)}</text>`);
  for (let i = 0; i <= 4; i++)
    parts.push(
      `<text x="${x((maxX * i) / 4)}" y="${H - B + 14}" text-anchor="middle">${fmt((maxX * i) / 4, 0)}</text>`,
    );
  parts.push(`<text x="${(W + L) / 2}" y="${H - 3}" text-anchor="middle">latency p50 (ms)</text>`);
  const colors = ['#58a6ff', '#3fb950', '#d29922', '#f778ba', '#a371f7'];
  const modelNames = [...new Set(variants.map((v) => v.model))];
  for (const p of pts) {
    const color = colors[modelNames.indexOf(p.model) % colors.length];
    parts.push(
      `<circle class="point" cx="${x(p.latencyP50Ms)}" cy="${y(p.y)}" r="${p.active ? 6 : 4}" fill="${color}" stroke="${p.active ? '#fff' : 'none'}"/>`,
      x(p.latencyP50Ms) > W * 0.6
        ? `<text x="${x(p.latencyP50Ms) - 7}" y="${y(p.y) - 7}" text-anchor="end">${esc(`${p.model}/${p.id}`)}</text>`
        : `<text x="${x(p.latencyP50Ms) + 7}" y="${y(p.y) - 5}">${esc(`${p.model}/${p.id}`)}</text>`,
    );
  }
  svg.innerHTML = parts.join('');
}

async function tick() {
  try {
    showStatus(await api('/api/status'));
  } catch (err) {
    if (err.status === 401) return showLogin();
    $('version').textContent = `agent unreachable: ${err.message}`;
  }
}

function showLogin() {
  $('dashboard').hidden = true;
  $('login').hidden = false;
}

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const res = await fetch('/api/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: $('token').value }),
  });
  if (res.ok) location.reload();
  else $('login-error').textContent = 'wrong token';
});

async function start() {
  try {
    await api('/api/status');
  } catch (err) {
    if (err.status === 401) return showLogin();
  }
  $('dashboard').hidden = false;
  latencyChart = makeChart(
    $('latency-chart'),
    ['inference p50', 'inference p95', 'capture → result p95'],
    ['#58a6ff', '#a371f7', '#d29922'],
    'ms',
  );
  fpsChart = makeChart($('fps-chart'), ['inference fps', 'camera fps'], ['#3fb950', '#8b98a5'], 'fps');
  await loadHistory();
  await tick();
  setInterval(tick, 1000);
  liveLoop();
  const panel = { $, api, rows, esc, fmt };
  devicePanel(panel);
  controlsPanel(panel);
  showDecision();
  showModels().catch((err) => ($('tradeoff-note').textContent = err.message));
  setInterval(() => showModels().catch(() => undefined), 10_000);
  setInterval(showDecision, 30_000);
  window.addEventListener('resize', () => {
    for (const chart of [latencyChart, fpsChart])
      chart.setSize({ width: Math.max(280, $('latency-chart').clientWidth), height: 160 });
  });
}

start();
