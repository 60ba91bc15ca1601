import type { DeviceProfile } from './schema.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export function formatBytes(bytes: number): string {
  if (bytes >= 10 * GiB) return `${(bytes / GiB).toFixed(0)} GiB`;
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(1)} GiB`;
  return `${(bytes / MiB).toFixed(0)} MiB`;
}

function formatDuration(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.round((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min`;
}

/** The human-readable `edge-agent profile` output: one line per topic, the detail is in `--json`. */
export function formatProfileSummary(p: DeviceProfile): string {
  const lines: string[] = [];
  const add = (label: string, value: string) => lines.push(`${label.padEnd(12)} ${value}`);
  const b = p.board;
  const where = [
    b.virtualized ? `virtualised${b.hypervisor ? ` (${b.hypervisor})` : ''}` : '',
    b.container ? `container${b.containerRuntime ? ` (${b.containerRuntime})` : ''}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  add(
    'board',
    `${b.model ?? 'unknown model'} [${b.family}]${b.soc ? `, SoC ${b.soc}` : ''}${where ? `, ${where}` : ''}`,
  );
  if (b.l4tRelease) add('jetson', `L4T ${b.l4tRelease}${b.jetpack ? ` (JetPack ${b.jetpack})` : ''}`);
  if (p.os.distro || p.os.kernel)
    add('os', [p.os.distro, p.os.kernel && `kernel ${p.os.kernel}`].filter(Boolean).join(', '));

  const c = p.cpu;
  const clusters = c.clusters
    .map((k) => `${k.cpus.length}× ${k.coreType ?? 'core'}${k.maxMhz ? ` @ ${k.maxMhz} MHz` : ''}`)
    .join(' + ');
  add(
    'cpu',
    `${c.arch}, ${c.cores} cores${c.quotaCores ? ` (cgroup quota ${c.quotaCores} CPUs)` : ''}: ${clusters || 'unknown'}`,
  );
  add('features', c.features.length ? c.features.join(' ') : 'none of the tracked SIMD/matrix extensions');
  if (c.governor || c.curMhz)
    add(
      'frequency',
      [c.governor && `governor ${c.governor}`, c.curMhz && `now ${c.curMhz} MHz`].filter(Boolean).join(', '),
    );

  const m = p.memory;
  const limit =
    m.cgroup?.limitBytes !== undefined
      ? `, cgroup v${m.cgroup.version} limit ${formatBytes(m.cgroup.limitBytes)}`
      : '';
  add(
    'memory',
    `${formatBytes(m.totalBytes)} total, ${formatBytes(m.availableBytes)} available${limit}; budget ${formatBytes(m.effectiveBudgetBytes)} (${formatBytes(m.effectiveAvailableBytes)} free)`,
  );
  if (m.swapTotalBytes > 0)
    add('swap', `${formatBytes(m.swapTotalBytes)} (${formatBytes(m.swapFreeBytes)} free)`);
  if (p.storage)
    add(
      'storage',
      `${formatBytes(p.storage.availableBytes)} free of ${formatBytes(p.storage.totalBytes)} (${p.storage.path})`,
    );

  for (const g of p.gpu) {
    const details = [
      g.maxMhz && `${g.maxMhz} MHz`,
      g.memoryTotalBytes && formatBytes(g.memoryTotalBytes),
      g.computeCapability && `sm ${g.computeCapability}`,
      g.cudaVersion && `CUDA ${g.cudaVersion}`,
    ]
      .filter(Boolean)
      .join(', ');
    add('gpu', `${g.name} (${g.kind}${details ? `, ${details}` : ''})`);
  }
  for (const a of p.accelerators)
    add('accelerator', `${a.kind} via ${a.interface} at ${a.device}: not usable (${a.note})`);
  const eps = p.executionProviders;
  add(
    'onnxruntime',
    `${eps.onnxruntimeVersion}: ${eps.available.join(', ') || 'no working provider'}${eps.rejected.length ? ` (not: ${eps.rejected.map((r) => r.provider).join(', ')})` : ''}`,
  );

  const pw = p.power;
  add('power', `${pw.source} (${pw.sourceReason})`);
  if (pw.battery) {
    const bt = pw.battery;
    const parts = [
      bt.percent !== undefined && `${bt.percent}%`,
      bt.status.toLowerCase(),
      bt.powerW !== undefined && `${bt.powerW} W`,
      bt.timeRemainingS !== undefined &&
        `${formatDuration(bt.timeRemainingS)} ${bt.charging ? 'to full' : 'left'}`,
    ];
    add('battery', `${bt.name}: ${parts.filter(Boolean).join(', ')}`);
  }
  for (const s of pw.sensors) {
    const v =
      s.powerW !== undefined
        ? `${s.powerW} W`
        : s.energyUj !== undefined
          ? `${(s.energyUj / 1e6).toFixed(1)} J counter`
          : 'no reading';
    add('sensor', `${s.name} (${s.kind}${s.total ? ', whole board' : ''}): ${v}`);
  }

  const t = p.thermal;
  const temps = t.zones.filter((z) => z.tempC !== undefined).map((z) => `${z.type} ${z.tempC} °C`);
  if (temps.length) add('thermal', temps.join(', '));
  if (t.throttling.jetsonPowerMode)
    add(
      'power mode',
      `nvpmodel ${t.throttling.jetsonPowerMode.name}${t.throttling.jetsonPowerMode.id !== undefined ? ` (${t.throttling.jetsonPowerMode.id})` : ''}`,
    );
  add('throttling', t.throttling.active ? t.throttling.reasons.join('; ') : 'none');
  const pi = t.throttling.raspberryPi;
  if (pi) {
    const past = [
      pi.underVoltageSinceBoot && 'under-voltage',
      pi.frequencyCappedSinceBoot && 'frequency capped',
      pi.throttledSinceBoot && 'throttled',
      pi.softTempLimitSinceBoot && 'soft temperature limit',
    ].filter(Boolean);
    add(
      'since boot',
      past.length
        ? `${past.join(', ')} (vcgencmd get_throttled=${pi.raw})`
        : `nothing (vcgencmd get_throttled=${pi.raw})`,
    );
  }
  add('fingerprint', p.fingerprint.slice(0, 16));
  if (p.unavailable.length) {
    lines.push('', `not available (${p.unavailable.length}):`);
    for (const u of p.unavailable) lines.push(`  ${u.field}: ${u.reason}`);
  }
  return lines.join('\n');
}
