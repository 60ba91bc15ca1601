import type { DeviceProfile } from '../hardware/schema.js';

/**
 * `edge-agent doctor`: the checks that fail on real devices, each a pure function of what was
 * gathered (src/cli/doctor.ts gathers), each result with a one-line fix. Exit code: 0 all ok,
 * 1 warnings, 2 failures.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  summary: string;
  /** One line: what to do. Absent when ok. */
  fix?: string;
}

export function exitCodeOf(results: readonly CheckResult[]): 0 | 1 | 2 {
  if (results.some((r) => r.status === 'fail')) return 2;
  if (results.some((r) => r.status === 'warn')) return 1;
  return 0;
}

const ok = (id: string, summary: string): CheckResult => ({ id, status: 'ok', summary });
const warn = (id: string, summary: string, fix: string): CheckResult => ({
  id,
  status: 'warn',
  summary,
  fix,
});
const fail = (id: string, summary: string, fix: string): CheckResult => ({
  id,
  status: 'fail',
  summary,
  fix,
});
const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;

export function checkConfig(file: string | undefined, problems: readonly string[]): CheckResult {
  if (problems.length === 0) return ok('config', `${file ?? 'defaults (no config file)'}: valid`);
  return fail(
    'config',
    `${file ?? 'config'}: ${problems.join('; ')}`,
    `fix the config (edge-agent config validate ${file ?? ''}), then restart`.replace(' ,', ','),
  );
}

/** What is known of the camera device node the config names (v4l2:/dev/videoN). */
export interface DeviceAccess {
  exists: boolean;
  /** Whether the service user can open it for reading; undefined when that user does not exist. */
  readableByServiceUser: boolean | undefined;
  /** The device's group, for the fix. */
  group?: string;
}

export interface CameraInputs {
  source: string;
  /** /dev/video* present on this machine. */
  videoDevices: readonly string[];
  device?: DeviceAccess;
  serviceUser: string;
  /** Capture tools in PATH: rpicam-vid/libcamera-vid, gst-launch-1.0. */
  tools: Readonly<Record<string, boolean>>;
}

export function checkCamera(i: CameraInputs): CheckResult {
  const [kind] = i.source.split(':');
  const attached =
    i.videoDevices.length > 0 ? `attached: ${i.videoDevices.join(', ')}` : 'no /dev/video* attached';
  if (kind === 'v4l2') {
    const dev = i.source.slice('v4l2:'.length);
    if (!i.device?.exists) {
      return fail(
        'camera',
        `camera ${dev} not found (${attached})`,
        'plug the camera in (ls /dev/video*; edge-agent cameras lists them) or set camera.source to one that exists',
      );
    }
    if (i.device.readableByServiceUser === false) {
      return fail(
        'camera',
        `camera ${dev} is not readable by ${i.serviceUser}`,
        `sudo usermod -aG ${i.device.group ?? 'video'} ${i.serviceUser} && sudo systemctl restart edge-agent`,
      );
    }
    return ok(
      'camera',
      `camera ${dev} present${i.device.readableByServiceUser ? ` and readable by ${i.serviceUser}` : ''}`,
    );
  }
  if (kind === 'libcamera') {
    return i.tools['rpicam-vid'] || i.tools['libcamera-vid']
      ? ok('camera', `${i.source}: rpicam-vid present`)
      : fail(
          'camera',
          `${i.source}: rpicam-vid not found`,
          'sudo apt-get install rpicam-apps (Raspberry Pi OS)',
        );
  }
  if (kind === 'jetson-csi') {
    return i.tools['gst-launch-1.0']
      ? ok('camera', `${i.source}: gst-launch-1.0 present`)
      : fail(
          'camera',
          `${i.source}: gst-launch-1.0 not found`,
          "install JetPack's GStreamer (nvidia-l4t-gstreamer)",
        );
  }
  if (kind === 'images' || kind === 'file' || kind === 'synthetic') {
    // Not a camera: say so, and whether one is attached that could be used instead.
    const using = kind === 'synthetic' ? 'synthetic frames' : i.source;
    if (i.videoDevices.length === 0) {
      return warn(
        'camera',
        `no camera: the agent runs on ${using} (${attached})`,
        'plug in a USB camera and set camera.source to v4l2:/dev/video0 (or rtsp://… for an IP camera)',
      );
    }
    return warn(
      'camera',
      `the agent runs on ${using}; ${attached}`,
      `set camera.source to v4l2:${i.videoDevices[0]}`,
    );
  }
  return ok(
    'camera',
    `${i.source.replace(/\/\/[^@/]*@/, '//[redacted]@')}: network camera (checked when the agent connects)`,
  );
}

/** Sources whose capture goes through ffmpeg. */
export function needsFfmpeg(source: string): boolean {
  return /^(v4l2|file|rtsps?|https?):/.test(source);
}

export function checkFfmpeg(version: string | undefined, source: string): CheckResult {
  if (version) return ok('ffmpeg', version);
  const summary = 'ffmpeg not found';
  const fix = 'sudo apt-get install ffmpeg';
  return needsFfmpeg(source)
    ? fail('ffmpeg', `${summary} (camera.source needs it)`, fix)
    : warn('ffmpeg', summary, fix);
}

export type BrokerProbe =
  | { kind: 'embedded' }
  | { kind: 'reached'; url: string }
  | { kind: 'failed'; url: string; error: string };

export function checkBroker(p: BrokerProbe): CheckResult {
  if (p.kind === 'embedded') return ok('broker', 'embedded broker (runs inside the agent)');
  if (p.kind === 'reached') return ok('broker', `${p.url}: connected`);
  return fail(
    'broker',
    `${p.url}: ${p.error}`,
    'check mqtt.url, that the broker runs and is reachable, and mqtt.tls.ca/cert/key (openssl s_client -connect HOST:PORT -CAfile CA)',
  );
}

/** `timedatectl show -p NTPSynchronized --value`: "yes", "no", or undefined when it cannot run. */
export function checkClock(synchronized: string | undefined, container: boolean): CheckResult {
  if (synchronized === 'yes') return ok('clock', 'synchronised (NTP)');
  if (synchronized === 'no') {
    return warn(
      'clock',
      'not synchronised',
      'sudo timedatectl set-ntp true (TLS certificates and timestamps need the right time)',
    );
  }
  return container
    ? ok('clock', 'in a container: the host keeps the clock')
    : warn(
        'clock',
        'cannot tell (no timedatectl)',
        'install and enable a time sync service: sudo apt-get install systemd-timesyncd',
      );
}

export function checkDisk(dataDir: string, storage: DeviceProfile['storage']): CheckResult {
  if (!storage)
    return warn('disk', `free space of ${dataDir} unknown`, `create ${dataDir} (the agent's data folder)`);
  const free = storage.availableBytes;
  const fix = `free space on ${storage.path} (df -h ${storage.path}) or set dataDir to a larger disk`;
  if (free < 100e6) return fail('disk', `${mb(free)} free for ${dataDir}`, fix);
  if (free < 1e9)
    return warn('disk', `${mb(free)} free for ${dataDir} (derived variants and the database need room)`, fix);
  return ok('disk', `${mb(free)} free for ${dataDir}`);
}

/**
 * Rough peak need of the agent with a model: the Node process with its libraries (~150 MB) plus
 * the session (about 3x the model file: weights, optimised copy, arena).
 */
export function estimateAgentBytes(modelBytes: number): number {
  return 150e6 + 3 * modelBytes;
}

/** The lean runtime, for a board short of memory (docs/memory.md, "The lean runtime"). */
const LEAN_HINT = 'EDGE_AGENT_LEAN=1 runs the agent 6-12 MB smaller (V8 without its optimising compilers)';

export function checkMemory(
  model: string,
  modelBytes: number | undefined,
  memory: DeviceProfile['memory'],
): CheckResult {
  if (modelBytes === undefined) return warn('memory', `model ${model} not found`, 'see the config check');
  const need = estimateAgentBytes(modelBytes);
  const summary = `~${mb(need)} needed for ${model} (${mb(modelBytes)} file); budget ${mb(memory.effectiveBudgetBytes)}, available ${mb(memory.effectiveAvailableBytes)}`;
  if (memory.effectiveBudgetBytes > 0 && need > memory.effectiveBudgetBytes) {
    return fail(
      'memory',
      summary,
      `choose a smaller model (models.default) or an int8 variant (edge-agent derive MODEL --method int8-static); ${LEAN_HINT}`,
    );
  }
  if (memory.effectiveAvailableBytes > 0 && need > memory.effectiveAvailableBytes) {
    return warn(
      'memory',
      summary,
      `stop other services or add swap (sudo dphys-swapfile / a swapfile); ${LEAN_HINT}`,
    );
  }
  return ok('memory', summary);
}

export function checkThrottling(thermal: DeviceProfile['thermal']): CheckResult {
  const pi = thermal.throttling.raspberryPi;
  const psu = 'use the official power supply (Pi 4: 5.1 V 3 A; Pi 5: 5 V 5 A) and a short, thick cable';
  if (pi?.underVoltageNow) return fail('throttling', `under-voltage now (throttled=${pi.raw})`, psu);
  if (pi?.throttledNow || thermal.throttling.active) {
    return warn(
      'throttling',
      `throttled now: ${thermal.throttling.reasons.join(', ') || pi?.raw}`,
      'add a heatsink or fan; check the power supply',
    );
  }
  if (pi?.underVoltageSinceBoot)
    return warn('throttling', `under-voltage since boot (throttled=${pi.raw})`, psu);
  if (pi?.throttledSinceBoot)
    return warn('throttling', `throttled since boot (throttled=${pi.raw})`, 'add a heatsink or fan');
  return ok('throttling', pi ? `not throttled (throttled=${pi.raw})` : 'not throttled');
}

export function checkProviders(
  wanted: readonly string[],
  eps: DeviceProfile['executionProviders'],
): CheckResult {
  const missing = wanted.filter((p) => !eps.available.includes(p));
  const loaded = `loaded: ${eps.available.join(', ') || 'none'}`;
  if (!eps.available.includes('cpu')) {
    return fail(
      'providers',
      `onnxruntime's CPU provider does not load (${loaded})`,
      'reinstall: cd /opt/edge-agent && npm ci --omit=dev',
    );
  }
  if (missing.length === 0) return ok('providers', loaded);
  const reasons = missing.map((p) => {
    const r = eps.rejected.find((x) => x.provider === p)?.reason ?? 'not available';
    return `${p}: ${r.length > 120 ? `${r.slice(0, 117)}…` : r}`;
  });
  return warn(
    'providers',
    `${missing.join(', ')} configured but not loadable, CPU used instead (${reasons.join('; ')})`,
    'install the GPU build of onnxruntime for this board (docs/install.md) or remove them from inference.executionProviders',
  );
}

export interface ServiceInputs {
  /** `systemctl is-active edge-agent` output, or undefined when systemd is not running. */
  active: string | undefined;
  enabled: string | undefined;
  container: boolean;
  containerRuntime?: string;
}

export function checkService(i: ServiceInputs): CheckResult {
  if (i.active === undefined) {
    return i.container
      ? ok(
          'service',
          `in a container (${i.containerRuntime ?? 'unknown runtime'}): no systemd; the runtime restarts it (docker run --restart unless-stopped)`,
        )
      : warn(
          'service',
          'systemd is not running: nothing restarts the agent',
          'run it under systemd: sudo scripts/install.sh',
        );
  }
  if (i.active === 'active') {
    return i.enabled === 'enabled'
      ? ok('service', 'edge-agent.service active and enabled')
      : warn(
          'service',
          `edge-agent.service active but ${i.enabled ?? 'not enabled'}`,
          'sudo systemctl enable edge-agent',
        );
  }
  if (i.enabled === 'not-found' || i.enabled === undefined || i.enabled === '') {
    return warn('service', 'edge-agent.service is not installed', 'sudo scripts/install.sh');
  }
  return fail(
    'service',
    `edge-agent.service is ${i.active}`,
    'journalctl -u edge-agent -n 50 shows why; then sudo systemctl restart edge-agent',
  );
}
