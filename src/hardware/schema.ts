import { z } from 'zod';
import { weakLazy } from '../weak-lazy.js';
import { BOARD_FAMILIES } from './boards.js';

/**
 * The device profile: what `edge-agent profile --json`, HTTP `/api/profile` and MQTT `get-profile`
 * return as-is. Units are in the names; a value that could not be read is absent and listed in
 * `unavailable` with the reason.
 */

/** CPU features normalised across arm and x86 (what the tuner and optimizer can act on). */
export const CPU_FEATURES = [
  'neon',
  'dotprod',
  'fp16',
  'i8mm',
  'bf16',
  'sve',
  'avx2',
  'fma',
  'avx512f',
  'avx512vnni',
  'avx512bf16',
  'avxvnni',
  'amx',
] as const;
export const POWER_SOURCES = ['mains', 'battery', 'usb', 'unknown'] as const;

/** The CPU's schemas (apart: boards.ts's types use CpuInfo, and the board family comes from boards.ts). */
function buildCpuSchemas() {
  const cpuFeatureSchema = z.enum(CPU_FEATURES);

  const cpuClusterSchema = z.object({
    cpus: z.array(z.int().nonnegative()),
    /** Core type from the arm part number (cortex-a76) or the x86 model name. */
    coreType: z.string().optional(),
    maxMhz: z.number().positive().optional(),
    minMhz: z.number().positive().optional(),
  });

  const cpuSchema = z.object({
    arch: z.enum(['x86_64', 'aarch64', 'armv7l', 'unknown']),
    vendor: z.string().optional(),
    modelName: z.string().optional(),
    /** Logical CPUs in /proc/cpuinfo. */
    cores: z.int().nonnegative(),
    /** CPUs' worth of time the cgroup allows (cpu.max / cfs quota), when limited. */
    quotaCores: z.number().positive().optional(),
    clusters: z.array(cpuClusterSchema),
    features: z.array(cpuFeatureSchema),
    /** The kernel's flags/Features words, as read. */
    rawFeatures: z.array(z.string()),
    governor: z.string().optional(),
    curMhz: z.number().positive().optional(),
    maxMhz: z.number().positive().optional(),
  });
  return { cpuFeatureSchema, cpuClusterSchema, cpuSchema };
}

/** Every schema of the profile, built on each call (src/weak-lazy.ts). */
function buildProfileSchemas() {
  const boardFamilySchema = z.enum(BOARD_FAMILIES);

  const powerSourceSchema = z.enum(POWER_SOURCES);

  const boardSchema = z.object({
    /** The device-tree model or DMI vendor + product string. */
    model: z.string().optional(),
    family: boardFamilySchema,
    soc: z.string().optional(),
    /** device-tree `compatible` strings, most specific first. */
    compatible: z.array(z.string()),
    /** Raspberry Pi revision code from /proc/cpuinfo (e.g. c03114 = Pi 4B 4 GB rev 1.4). */
    raspberryPiRevision: z.string().optional(),
    /** Jetson Linux (L4T) release from /etc/nv_tegra_release, e.g. "36.4.3". */
    l4tRelease: z.string().optional(),
    /** The JetPack release that ships that L4T (from NVIDIA's release table). */
    jetpack: z.string().optional(),
    virtualized: z.boolean(),
    hypervisor: z.string().optional(),
    container: z.boolean(),
    containerRuntime: z.string().optional(),
  });

  const osSchema = z.object({
    kernel: z.string().optional(),
    distro: z.string().optional(),
    hostname: z.string().optional(),
  });

  const { cpuFeatureSchema, cpuClusterSchema, cpuSchema } = buildCpuSchemas();

  const cgroupMemorySchema = z.object({
    version: z.union([z.literal(1), z.literal(2)]),
    /** The cgroup's memory limit; absent when unlimited. */
    limitBytes: z.number().nonnegative().optional(),
    usageBytes: z.number().nonnegative().optional(),
  });

  const memorySchema = z.object({
    totalBytes: z.number().nonnegative(),
    availableBytes: z.number().nonnegative(),
    swapTotalBytes: z.number().nonnegative(),
    swapFreeBytes: z.number().nonnegative(),
    cgroup: cgroupMemorySchema.optional(),
    /** The smallest of physical memory and the cgroup limit: what a model may use at most. */
    effectiveBudgetBytes: z.number().nonnegative(),
    /** Available now within that budget (cgroup headroom or MemAvailable, whichever is smaller). */
    effectiveAvailableBytes: z.number().nonnegative(),
  });

  const storageSchema = z.object({
    /** The data directory (on the live root) whose filesystem was measured. */
    path: z.string(),
    totalBytes: z.number().nonnegative(),
    freeBytes: z.number().nonnegative(),
    /** Free bytes an unprivileged process may use (statfs bavail). */
    availableBytes: z.number().nonnegative(),
  });

  const gpuSchema = z.object({
    kind: z.enum(['integrated', 'discrete']),
    vendor: z.string(),
    name: z.string(),
    maxMhz: z.number().positive().optional(),
    curMhz: z.number().nonnegative().optional(),
    memoryTotalBytes: z.number().nonnegative().optional(),
    memoryFreeBytes: z.number().nonnegative().optional(),
    driverVersion: z.string().optional(),
    computeCapability: z.string().optional(),
    cudaVersion: z.string().optional(),
    powerW: z.number().nonnegative().optional(),
    tempC: z.number().optional(),
    utilizationPercent: z.number().min(0).max(100).optional(),
  });

  const acceleratorSchema = z.object({
    kind: z.enum(['coral-edgetpu', 'hailo']),
    interface: z.enum(['pcie', 'usb']),
    /** The device node or USB id it was found by. */
    device: z.string(),
    /** Whether edge-agent can run models on it (not yet: reported so the operator knows). */
    supported: z.boolean(),
    note: z.string(),
  });

  const executionProvidersSchema = z.object({
    /** Providers that created a session and ran a tiny model in this process (CPU, unless onnxruntime is broken). */
    available: z.array(z.string()),
    rejected: z.array(z.object({ provider: z.string(), reason: z.string() })),
    onnxruntimeVersion: z.string(),
  });

  const batterySchema = z.object({
    name: z.string(),
    percent: z.number().min(0).max(100).optional(),
    /** The kernel's status: Charging, Discharging, Full, Not charging, Unknown. */
    status: z.string(),
    charging: z.boolean(),
    /** Power flowing in or out of the battery (power_now, or current_now × voltage_now). */
    powerW: z.number().nonnegative().optional(),
    voltageV: z.number().nonnegative().optional(),
    energyWh: z.number().nonnegative().optional(),
    energyFullWh: z.number().nonnegative().optional(),
    /** Time to empty when discharging, to full when charging. */
    timeRemainingS: z.number().nonnegative().optional(),
  });

  const powerSensorSchema = z.object({
    /** Rail or zone name: VDD_IN, POM_5V_IN, package-0, pmic-total, BAT0. */
    name: z.string(),
    kind: z.enum(['ina3221', 'rapl', 'pmic', 'battery', 'nvidia-smi']),
    /** Whether this sensor measures the whole board's input (VDD_IN) rather than one rail. */
    total: z.boolean(),
    powerW: z.number().nonnegative().optional(),
    voltageV: z.number().nonnegative().optional(),
    currentA: z.number().optional(),
    /** RAPL: the cumulative counter and where it wraps. */
    energyUj: z.number().nonnegative().optional(),
    maxEnergyRangeUj: z.number().positive().optional(),
    /** The file or command it is read from. */
    path: z.string(),
  });

  const powerSchema = z.object({
    source: powerSourceSchema,
    /** How the source was determined. */
    sourceReason: z.string(),
    battery: batterySchema.optional(),
    sensors: z.array(powerSensorSchema),
  });

  const thermalZoneSchema = z.object({
    name: z.string(),
    type: z.string(),
    tempC: z.number().optional(),
    trips: z.array(z.object({ type: z.string(), tempC: z.number() })),
  });

  const raspberryPiThrottleSchema = z.object({
    /** The raw `throttled=0x…` value. */
    raw: z.string(),
    underVoltageNow: z.boolean(),
    frequencyCappedNow: z.boolean(),
    throttledNow: z.boolean(),
    softTempLimitNow: z.boolean(),
    underVoltageSinceBoot: z.boolean(),
    frequencyCappedSinceBoot: z.boolean(),
    throttledSinceBoot: z.boolean(),
    softTempLimitSinceBoot: z.boolean(),
  });

  const throttlingSchema = z.object({
    /** Anything slowing the CPU down right now. */
    active: z.boolean(),
    /** Human-readable causes, empty when not throttled. */
    reasons: z.array(z.string()),
    raspberryPi: raspberryPiThrottleSchema.optional(),
    /** cpufreq scaling_max_freq below cpuinfo_max_freq on some CPU (thermal or policy cap). */
    frequencyCapped: z.boolean(),
    /** Jetson `nvpmodel -q` power mode. */
    jetsonPowerMode: z.object({ name: z.string(), id: z.int().nonnegative().optional() }).optional(),
  });

  const thermalSchema = z.object({
    zones: z.array(thermalZoneSchema),
    maxTempC: z.number().optional(),
    throttling: throttlingSchema,
  });

  const deviceProfileSchema = z.object({
    schemaVersion: z.literal(1),
    /** ISO time the profile was read (not part of the fingerprint). */
    profiledAt: z.string(),
    /** The filesystem root read: `/` on the device, a fixture tree otherwise. */
    root: z.string(),
    /** sha256 (hex) of what determines inference speed; see fingerprintInputs. */
    fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
    fingerprintInputs: z.record(z.string(), z.unknown()),
    board: boardSchema,
    os: osSchema,
    cpu: cpuSchema,
    memory: memorySchema,
    storage: storageSchema.optional(),
    gpu: z.array(gpuSchema),
    accelerators: z.array(acceleratorSchema),
    executionProviders: executionProvidersSchema,
    power: powerSchema,
    thermal: thermalSchema,
    /** Fields that could not be read, and why (absent file, permission, malformed text). */
    unavailable: z.array(z.object({ field: z.string(), reason: z.string() })),
  });
  return {
    boardFamilySchema,
    cpuFeatureSchema,
    powerSourceSchema,
    boardSchema,
    osSchema,
    cpuClusterSchema,
    cpuSchema,
    cgroupMemorySchema,
    memorySchema,
    storageSchema,
    gpuSchema,
    acceleratorSchema,
    executionProvidersSchema,
    batterySchema,
    powerSensorSchema,
    powerSchema,
    thermalZoneSchema,
    raspberryPiThrottleSchema,
    throttlingSchema,
    thermalSchema,
    deviceProfileSchema,
  };
}

/**
 * The profile's schemas, built when a profile is read or checked and collected after
 * (src/weak-lazy.ts): as module constants they held 0.33 MB of the main heap for the agent's life.
 */
export const profileSchemas = weakLazy(buildProfileSchemas);
type Schemas = ReturnType<typeof buildProfileSchemas>;
type CpuSchemas = ReturnType<typeof buildCpuSchemas>;

export type BoardFamily = z.infer<Schemas['boardFamilySchema']>;
export type CpuFeature = z.infer<CpuSchemas['cpuFeatureSchema']>;
export type PowerSource = (typeof POWER_SOURCES)[number];
export type DeviceProfile = z.infer<Schemas['deviceProfileSchema']>;
export type BoardInfo = z.infer<Schemas['boardSchema']>;
export type OsInfo = z.infer<Schemas['osSchema']>;
export type CpuInfo = z.infer<CpuSchemas['cpuSchema']>;
export type CpuCluster = z.infer<CpuSchemas['cpuClusterSchema']>;
export type MemoryInfo = z.infer<Schemas['memorySchema']>;
export type StorageInfo = z.infer<Schemas['storageSchema']>;
export type GpuInfo = z.infer<Schemas['gpuSchema']>;
export type AcceleratorInfo = z.infer<Schemas['acceleratorSchema']>;
export type ExecutionProvidersInfo = z.infer<Schemas['executionProvidersSchema']>;
export type BatteryInfo = z.infer<Schemas['batterySchema']>;
export type PowerSensor = z.infer<Schemas['powerSensorSchema']>;
export type PowerInfo = z.infer<Schemas['powerSchema']>;
export type ThermalZone = z.infer<Schemas['thermalZoneSchema']>;
export type RaspberryPiThrottle = z.infer<Schemas['raspberryPiThrottleSchema']>;
export type ThrottlingInfo = z.infer<Schemas['throttlingSchema']>;
export type ThermalInfo = z.infer<Schemas['thermalSchema']>;
/** One "could not read X because Y". */
export type Unavailable = DeviceProfile['unavailable'][number];
