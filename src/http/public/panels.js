// edge-agent dashboard panels: the humanised device profile and the controls (the same as Home
// Assistant's). Loaded before app.js; uses its helpers through window.dashboard.

const GiB = 1024 ** 3;
const bytes = (b) =>
  b === undefined || b === null
    ? '–'
    : b >= GiB
      ? `${(b / GiB).toFixed(1)} GiB`
      : `${Math.round(b / 2 ** 20)} MiB`;

/** One readable line per part of the profile: no raw keys, no [object Object]. */
function profileRows(p) {
  const b = p.board || {};
  const cpu = p.cpu || {};
  const mem = p.memory || {};
  const power = p.power || {};
  const thermal = p.thermal || {};
  const where = [
    b.virtualized ? `virtual machine${b.hypervisor ? ` (${b.hypervisor})` : ''}` : '',
    b.container ? `container${b.containerRuntime ? ` (${b.containerRuntime})` : ''}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const board = [
    b.model || b.family,
    b.soc ? `SoC ${b.soc}` : '',
    b.jetpack ? `JetPack ${b.jetpack}` : '',
    where,
  ]
    .filter(Boolean)
    .join(' · ');
  const clusters = (cpu.clusters || [])
    .map(
      (c) =>
        `${c.cpus.length}× ${c.coreType || 'core'}${c.maxMhz ? ` up to ${Math.round(c.maxMhz)} MHz` : ''}`,
    )
    .join(' + ');
  const cores = `${cpu.cores} logical CPU${cpu.cores === 1 ? '' : 's'}${cpu.quotaCores ? ` (cgroup quota ${cpu.quotaCores})` : ''}`;
  const cpuLine = [cpu.modelName, cpu.arch, cores, clusters].filter(Boolean).join(' · ');
  const memLine =
    `${bytes(mem.effectiveBudgetBytes)} budget, ${bytes(mem.effectiveAvailableBytes)} available` +
    (mem.cgroup && mem.cgroup.limitBytes !== undefined
      ? ` (cgroup limit ${bytes(mem.cgroup.limitBytes)})`
      : '') +
    ` · ${bytes(mem.totalBytes)} installed`;
  const gpus = (p.gpu || []).map(
    (g) => `${g.name}${g.memoryTotalBytes ? ` (${bytes(g.memoryTotalBytes)})` : ''}`,
  );
  const accels = (p.accelerators || []).map(
    (a) => `${a.kind} on ${a.interface}${a.supported ? '' : ' (not used yet)'}`,
  );
  const eps = p.executionProviders?.available || [];
  const battery = power.battery
    ? `${power.battery.percent === undefined ? '?' : Math.round(power.battery.percent)} % ${power.battery.charging ? 'charging' : power.battery.status}`
    : 'none';
  const sensors = (power.sensors || []).map((s) => `${s.name} (${s.kind})`);
  const zones = (thermal.zones || [])
    .filter((z) => z.tempC !== undefined)
    .map((z) => `${z.name} ${z.tempC.toFixed(0)} °C`);
  return [
    ['board', board || '–'],
    ['system', [p.os?.distro, p.os?.kernel && `kernel ${p.os.kernel}`].filter(Boolean).join(' · ') || '–'],
    ['CPU', cpuLine || '–'],
    ['CPU features', (cpu.features || []).join(', ') || 'none detected'],
    ['memory', memLine],
    ['accelerators', [...gpus, ...accels].join(', ') || 'none (CPU only)'],
    [
      'onnxruntime',
      `${eps.join(', ') || '–'}${p.executionProviders ? ` · v${p.executionProviders.onnxruntimeVersion}` : ''}`,
    ],
    ['power', `${power.source || 'unknown'}${power.sourceReason ? ` (${power.sourceReason})` : ''}`],
    ['battery', battery],
    ['power sensors', sensors.join(', ') || 'none'],
    ['temperatures', zones.join(', ') || 'no thermal zones'],
    ...(thermal.throttling?.active ? [['throttling', thermal.throttling.reasons.join(', ')]] : []),
  ];
}

async function devicePanel(d) {
  try {
    d.rows(d.$('profile'), profileRows(await d.api('/api/profile')));
  } catch (err) {
    d.rows(d.$('profile'), [['profile', err.status === 503 ? 'not available yet' : err.message]]);
  }
}

/** Inference on/off, target fps, variant and restart, through POST /api/controls. */
function controlsPanel(d) {
  const note = (text, bad = false) => {
    d.$('ctl-note').textContent = text;
    d.$('ctl-note').className = bad ? 'error' : 'muted';
  };
  const show = (s) => {
    d.$('ctl-inference').checked = s.inference;
    if (document.activeElement !== d.$('ctl-fps')) d.$('ctl-fps').value = s.fps ?? '';
    const select = d.$('ctl-variant');
    if (
      select.options.length !== s.variants.length ||
      [...select.options].some((o, i) => o.value !== s.variants[i])
    )
      select.innerHTML = s.variants.map((v) => `<option value="${d.esc(v)}">${d.esc(v)}</option>`).join('');
    if (document.activeElement !== select) select.value = s.variant;
    // The tuner's controls, only where the agent has the tuner.
    const objectives = s.objectives ?? [];
    d.$('ctl-objective-label').hidden = objectives.length === 0;
    d.$('ctl-retune').hidden = objectives.length === 0;
    const objective = d.$('ctl-objective');
    if (objective.options.length !== objectives.length)
      objective.innerHTML = objectives
        .map((o) => `<option value="${d.esc(o)}">${d.esc(o)}</option>`)
        .join('');
    if (document.activeElement !== objective && s.objective) objective.value = s.objective;
    d.$('ctl-state').textContent = s.inference ? s.pacing : 'inference off (camera released)';
  };
  const send = async (path, body) => {
    note('…');
    try {
      const res = await fetch(path, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(answer.error || res.statusText);
      if (answer.variants) show(answer);
      note('applied');
      return answer;
    } catch (err) {
      note(err.message, true);
    }
  };
  d.$('ctl-inference').addEventListener('change', (e) =>
    send('/api/controls', { inference: e.target.checked }),
  );
  d.$('controls').addEventListener('submit', (e) => {
    e.preventDefault();
    const fps = Number(d.$('ctl-fps').value);
    if (fps > 0) send('/api/controls', { fps });
  });
  d.$('ctl-variant').addEventListener('change', (e) => send('/api/controls', { variant: e.target.value }));
  d.$('ctl-objective').addEventListener('change', (e) =>
    send('/api/controls', { objective: e.target.value }),
  );
  d.$('ctl-retune').addEventListener('click', async () => {
    const answer = await send('/api/controls/retune', {});
    if (answer?.tuning) note('re-tuning in the background: the decision panel updates when it is done');
  });
  d.$('ctl-restart').addEventListener('click', async () => {
    if (window.confirm('Restart the agent? The service manager starts it again.'))
      await send('/api/controls/restart', {});
  });
  const refresh = () =>
    d
      .api('/api/controls')
      .then(show)
      .catch((err) => note(err.status === 503 ? 'controls not available' : err.message, err.status !== 503));
  refresh();
  setInterval(refresh, 5000);
}

// Plain scripts share one global scope; app.js calls these.
window.devicePanel = devicePanel;
window.controlsPanel = controlsPanel;
