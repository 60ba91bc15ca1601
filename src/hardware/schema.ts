import { weakLazy } from '../weak-lazy.js';
import * as z from '../zod.js';
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
    cpus: z.array(z.int().check(z.nonnegative())),
    /** Core type from the arm part number (cortex-a76) or the x86 model name. */
    coreType: z.optional(z.string()),
    maxMhz: z.optional(z.number().check(z.positive())),
    minMhz: z.optional(z.number().check(z.positive())),
  });

  const cpuSchema = z.object({
    arch: z.enum(['x86_64', 'aarch64', 'armv7l', 'unknown']),
    vendor: z.optional(z.string()),
    modelName: z.optional(z.string()),
    /** Logical CPUs in /proc/cpuinfo. */
    cores: z.int().check(z.nonnegative()),
    /** CPUs' worth of time the cgroup allows (cpu.max / cfs quota), when limited. */
    quotaCores: z.optional(z.number().check(z.positive())),
    clusters: z.array(cpuClusterSchema),
    features: z.array(cpuFeatureSchema),
    /** The kernel's flags/Features words, as read. */
    rawFeatures: z.array(z.string()),
    governor: z.optional(z.string()),
    curMhz: z.optional(z.number().check(z.positive())),
    maxMhz: z.optional(z.number().check(z.positive())),
  });
  return { cpuFeatureSchema, cpuClusterSchema, cpuSchema };
}

/** Every schema of the profile, built on each call (src/weak-lazy.ts). */
function buildProfileSchemas() {
  const boardFamilySchema = z.enum(BOARD_FAMILIES);

  const powerSourceSchema = z.enum(POWER_SOURCES);

  const boardSchema = z.object({
    /** The device-tree model or DMI vendor + product string. */
    model: z.optional(z.string()),
    family: boardFamilySchema,
    soc: z.optional(z.string()),
    /** device-tree `compatible` strings, most specific first. */
    compatible: z.array(z.string()),
    /** Raspberry Pi revision code from /proc/cpuinfo (e.g. c03114 = Pi 4B 4 GB rev 1.4). */
    raspberryPiRevision: z.optional(z.string()),
    /** Jetson Linux (L4T) release from /etc/nv_tegra_release, e.g. "36.4.3". */
    l4tRelease: z.optional(z.string()),
    /** The JetPack release that ships that L4T (from NVIDIA's release table). */
    jetpack: z.optional(z.string()),
    virtualized: z.boolean(),
    hypervisor: z.optional(z.string()),
    container: z.boolean(),
    containerRuntime: z.optional(z.string()),
  });

  const osSchema = z.object({
    kernel: z.optional(z.string()),
    distro: z.optional(z.string()),
    hostname: z.optional(z.string()),
  });

  const { cpuFeatureSchema, cpuClusterSchema, cpuSchema } = buildCpuSchemas();

  const cgroupMemorySchema = z.object({
    version: z.union([z.literal(1), z.literal(2)]),
    /** The cgroup's memory limit; absent when unlimited. */
    limitBytes: z.optional(z.number().check(z.nonnegative())),
    usageBytes: z.optional(z.number().check(z.nonnegative())),
  });

  const memorySchema = z.object({
    totalBytes: z.number().check(z.nonnegative()),
    availableBytes: z.number().check(z.nonnegative()),
    swapTotalBytes: z.number().check(z.nonnegative()),
    swapFreeBytes: z.number().check(z.nonnegative()),
    cgroup: z.optional(cgroupMemorySchema),
    /** The smallest of physical memory and the cgroup limit: what a model may use at most. */
    effectiveBudgetBytes: z.number().check(z.nonnegative()),
    /** Available now within that budget (cgroup headroom or MemAvailable, whichever is smaller). */
    effectiveAvailableBytes: z.number().check(z.nonnegative()),
  });

  const storageSchema = z.object({
    /** The data directory (on the live root) whose filesystem was measured. */
    path: z.string(),
    totalBytes: z.number().check(z.nonnegative()),
    freeBytes: z.number().check(z.nonnegative()),
    /** Free bytes an unprivileged process may use (statfs bavail). */
    availableBytes: z.number().check(z.nonnegative()),
  });

  const gpuSchema = z.object({
    kind: z.enum(['integrated', 'discrete']),
    vendor: z.string(),
    name: z.string(),
    maxMhz: z.optional(z.number().check(z.positive())),
    curMhz: z.optional(z.number().check(z.nonnegative())),
    memoryTotalBytes: z.optional(z.number().check(z.nonnegative())),
    memoryFreeBytes: z.optional(z.number().check(z.nonnegative())),
    driverVersion: z.optional(z.string()),
    computeCapability: z.optional(z.string()),
    cudaVersion: z.optional(z.string()),
    powerW: z.optional(z.number().check(z.nonnegative())),
    tempC: z.optional(z.number()),
    utilizationPercent: z.optional(z.number().check(z.minimum(0), z.maximum(100))),
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
    percent: z.optional(z.number().check(z.minimum(0), z.maximum(100))),
    /** The kernel's status: Charging, Discharging, Full, Not charging, Unknown. */
    status: z.string(),
    charging: z.boolean(),
    /** Power flowing in or out of the battery (power_now, or current_now × voltage_now). */
    powerW: z.optional(z.number().check(z.nonnegative())),
    voltageV: z.optional(z.number().check(z.nonnegative())),
    energyWh: z.optional(z.number().check(z.nonnegative())),
    energyFullWh: z.optional(z.number().check(z.nonnegative())),
    /** Time to empty when discharging, to full when charging. */
    timeRemainingS: z.optional(z.number().check(z.nonnegative())),
  });

  const powerSensorSchema = z.object({
    /** Rail or zone name: VDD_IN, POM_5V_IN, package-0, pmic-total, BAT0. */
    name: z.string(),
    kind: z.enum(['ina3221', 'rapl', 'pmic', 'battery', 'nvidia-smi']),
    /** Whether this sensor measures the whole board's input (VDD_IN) rather than one rail. */
    total: z.boolean(),
    powerW: z.optional(z.number().check(z.nonnegative())),
    voltageV: z.optional(z.number().check(z.nonnegative())),
    currentA: z.optional(z.number()),
    /** RAPL: the cumulative counter and where it wraps. */
    energyUj: z.optional(z.number().check(z.nonnegative())),
    maxEnergyRangeUj: z.optional(z.number().check(z.positive())),
    /** The file or command it is read from. */
    path: z.string(),
  });

  const powerSchema = z.object({
    source: powerSourceSchema,
    /** How the source was determined. */
    sourceReason: z.string(),
    battery: z.optional(batterySchema),
    sensors: z.array(powerSensorSchema),
  });

  const thermalZoneSchema = z.object({
    name: z.string(),
    type: z.string(),
    tempC: z.optional(z.number()),
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
    raspberryPi: z.optional(raspberryPiThrottleSchema),
    /** cpufreq scaling_max_freq below cpuinfo_max_freq on some CPU (thermal or policy cap). */
    frequencyCapped: z.boolean(),
    /** Jetson `nvpmodel -q` power mode. */
    jetsonPowerMode: z.optional(
      z.object({ name: z.string(), id: z.optional(z.int().check(z.nonnegative())) }),
    ),
  });

  const thermalSchema = z.object({
    zones: z.array(thermalZoneSchema),
    maxTempC: z.optional(z.number()),
    throttling: throttlingSchema,
  });

  const deviceProfileSchema = z.object({
    schemaVersion: z.literal(1),
    /** ISO time the profile was read (not part of the fingerprint). */
    profiledAt: z.string(),
    /** The filesystem root read: `/` on the device, a fixture tree otherwise. */
    root: z.string(),
    /** sha256 (hex) of what determines inference speed; see fingerprintInputs. */
    fingerprint: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
    fingerprintInputs: z.record(z.string(), z.unknown()),
    board: boardSchema,
    os: osSchema,
    cpu: cpuSchema,
    memory: memorySchema,
    storage: z.optional(storageSchema),
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
