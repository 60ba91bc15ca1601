import type { Logger } from '../log.js';
import { classifyBoard } from './boards.js';
import { probeExecutionProviders as defaultProbe } from './execution-providers.js';
import { computeFingerprint, fingerprintInputs } from './fingerprint.js';
import { createHost, type Exec, type Host } from './host.js';
import { readAccelerators, readGpus } from './readers/accelerators.js';
import { readMemory, readStorage } from './readers/memory.js';
import { readPower } from './readers/power.js';
import { readBoard, readCpu, readCpuinfo, readOs } from './readers/system.js';
import { readThermal } from './readers/thermal.js';
import {
  type DeviceProfile,
  type ExecutionProvidersInfo,
  profileSchemas,
  type Unavailable,
} from './schema.js';
import {
  batteryFromSystemInformation,
  cpuFromSystemInformation,
  memoryFromSystemInformation,
  osFromSystemInformation,
  type SystemInformation,
} from './system-information.js';

export interface ReadProfileDeps {
  /** `/` (default) for this device, or a fixture tree: the same readers, only the root differs. */
  root?: string;
  /** Data directory whose filesystem's free space is reported (relative to the cwd on `/`). */
  dataDir?: string;
  /** Runs vcgencmd/nvpmodel/nvidia-smi; defaults to real commands on `/` and captured outputs otherwise. */
  exec?: Exec;
  commandTimeoutMs?: number;
  log?: Logger;
  /** Defaults to trying each onnxruntime backend in this process (cached per process). */
  probeExecutionProviders?: () => Promise<ExecutionProvidersInfo>;
  /** Fills what procfs/sysfs cannot give (non-Linux hosts); used automatically on `/` when /proc is absent. */
  systemInformation?: SystemInformation;
  now?: () => number;
}

/** Reads the whole device profile. Never throws for missing hardware: absent values are listed in `unavailable`. */
export async function readProfile(deps: ReadProfileDeps = {}): Promise<DeviceProfile> {
  const host = createHost({ root: deps.root, exec: deps.exec, commandTimeoutMs: deps.commandTimeoutMs });
  const log = deps.log?.child({ component: 'hardware' });
  const unavailable: Unavailable[] = [];
  const miss = (field: string, reason: string) => unavailable.push({ field, reason });
  const probe = deps.probeExecutionProviders ?? (() => defaultProbe({ log }));

  // The probe loads onnxruntime sessions: start it first, it runs while the files are read.
  const eps = probe();
  const cpuinfo = await readCpuinfo(host, miss);
  const [board, os, cpuRead, memory, storage, accelerators] = await Promise.all([
    readBoard(host, cpuinfo, miss),
    readOs(host, miss),
    readCpu(host, cpuinfo, miss),
    readMemory(host, miss),
    readStorage(host, deps.dataDir ?? (host.live ? '.' : '/'), miss),
    readAccelerators(host),
  ]);
  const gpus = await readGpus(host, board.family, board.soc, miss);
  const [power, thermal] = await Promise.all([
    readPower(host, { family: board.family, gpuSensors: gpus.sensors }, miss),
    readThermal(host, { family: board.family, cappedCpus: cpuRead.cappedCpus }, miss),
  ]);
  const parts = { board, os, cpu: cpuRead.cpu, memory, power, unavailable };
  await fillFromSystemInformation(host, deps.systemInformation, parts, log);

  const executionProviders = await eps;
  const inputs = fingerprintInputs({ ...parts, gpu: gpus.gpu, accelerators, executionProviders });
  const profile: DeviceProfile = {
    schemaVersion: 1,
    profiledAt: new Date((deps.now ?? Date.now)()).toISOString(),
    root: host.root,
    fingerprint: computeFingerprint(inputs),
    fingerprintInputs: inputs,
    board: parts.board,
    os: parts.os,
    cpu: parts.cpu,
    memory: parts.memory,
    ...(storage ? { storage } : {}),
    gpu: gpus.gpu,
    accelerators,
    executionProviders,
    power: parts.power,
    thermal,
    unavailable: parts.unavailable,
  };
  log?.debug(
    { fingerprint: profile.fingerprint, family: board.family, unavailable: unavailable.length },
    'device profiled',
  );
  // The schema is the contract HTTP and MQTT return as-is: a reader bug must fail here, not there.
  return profileSchemas().deviceProfileSchema.parse(profile);
}

type Parts = Pick<DeviceProfile, 'board' | 'os' | 'cpu' | 'memory' | 'power' | 'unavailable'>;

async function fillFromSystemInformation(
  host: Host,
  given: SystemInformation | undefined,
  parts: Parts,
  log: Logger | undefined,
): Promise<void> {
  let s = given;
  if (!s && host.live && !(await host.exists('/proc/cpuinfo'))) {
    s = (await import('systeminformation')) as SystemInformation;
  }
  if (!s) return;
  const filled: string[] = [];
  if (parts.cpu.cores === 0) {
    parts.cpu = await cpuFromSystemInformation(s);
    if (parts.board.family === 'unknown') parts.board.family = classifyBoard(undefined, [], parts.cpu.arch);
    filled.push('cpu');
  }
  if (parts.memory.totalBytes === 0) {
    parts.memory = await memoryFromSystemInformation(s);
    filled.push('memory');
  }
  if (!parts.power.battery) {
    const battery = await batteryFromSystemInformation(s);
    if (battery) {
      parts.power.battery = battery;
      if (parts.power.source === 'unknown') {
        parts.power.source = battery.status === 'Discharging' ? 'battery' : 'mains';
        parts.power.sourceReason = `systeminformation: battery ${battery.status.toLowerCase()}`;
      }
      filled.push('power.battery');
    }
  }
  if (!parts.os.kernel) {
    parts.os = await osFromSystemInformation(s);
    filled.push('os');
  }
  // What systeminformation supplied is no longer unavailable.
  parts.unavailable = parts.unavailable.filter(
    (u) => !filled.some((f) => u.field === f || u.field.startsWith(`${f}.`)),
  );
  if (filled.length) log?.debug({ filled }, 'filled from systeminformation');
}
