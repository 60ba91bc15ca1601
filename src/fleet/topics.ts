/**
 * The MQTT topic layout (DESIGN.md "MQTT layout"). Pure: every topic the agent and the fleet CLI
 * use is built or parsed here, so the layout lives in one place. Only standard MQTT wildcards
 * (`+`, `#`) are used — nothing broker-specific — so it works the same on Mosquitto, EMQX,
 * VerneMQ or HiveMQ clusters.
 */
export interface DeviceTopics {
  availability: string;
  info: string;
  telemetry: string;
  results: string;
  events: string;
  request(command: string): string;
  response(command: string): string;
  /** Subscription for this device's requests. */
  requests: string;
}

export function deviceTopics(prefix: string, deviceId: string): DeviceTopics {
  const base = `${prefix}/${deviceId}`;
  return {
    availability: `${base}/availability`,
    info: `${base}/info`,
    telemetry: `${base}/telemetry`,
    results: `${base}/results`,
    events: `${base}/events`,
    request: (command) => `${base}/request/${command}`,
    response: (command) => `${base}/response/${command}`,
    requests: `${base}/request/+`,
  };
}

export function groupRequestTopic(prefix: string, group: string, command: string): string {
  return `${prefix}/group/${group}/request/${command}`;
}

/** What a fleet watcher subscribes to: every device's availability, info and telemetry. */
export function fleetStateTopics(prefix: string): string[] {
  return ['availability', 'info', 'telemetry'].map((kind) => `${prefix}/+/${kind}`);
}

/** Every device's answers to a command (a group's members each answer on their own topic). */
export function anyDeviceResponse(prefix: string, command: string): string {
  return `${prefix}/+/response/${command}`;
}

/** Subscription for a group's requests. */
export function groupRequests(prefix: string, group: string): string {
  return `${prefix}/group/${group}/request/+`;
}

export type RequestScope = { kind: 'device' } | { kind: 'group'; group: string };

export interface ParsedRequest {
  scope: RequestScope;
  command: string;
}

/** Recognises this device's or one of its groups' request topics; undefined for anything else. */
export function parseRequestTopic(
  topic: string,
  prefix: string,
  deviceId: string,
  groups: readonly string[],
): ParsedRequest | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const rest = topic.slice(prefix.length + 1).split('/');
  if (rest.length === 3 && rest[0] === deviceId && rest[1] === 'request' && rest[2]) {
    return { scope: { kind: 'device' }, command: rest[2] };
  }
  if (
    rest.length === 4 &&
    rest[0] === 'group' &&
    rest[2] === 'request' &&
    rest[3] &&
    groups.includes(rest[1]!)
  ) {
    return { scope: { kind: 'group', group: rest[1]! }, command: rest[3] };
  }
  return undefined;
}

export function scopeLabel(scope: RequestScope): string {
  return scope.kind === 'device' ? 'device' : `group:${scope.group}`;
}

/** The parts of a device-level topic (`<prefix>/<id>/<kind>[/<command>]`), for fleet watchers. */
export function parseDeviceTopic(
  topic: string,
  prefix: string,
): { deviceId: string; kind: string; command?: string } | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const rest = topic.slice(prefix.length + 1).split('/');
  if (rest[0] === 'group' || !rest[0] || !rest[1]) return undefined;
  if (rest.length === 2) return { deviceId: rest[0], kind: rest[1] };
  if (rest.length === 3 && (rest[1] === 'request' || rest[1] === 'response')) {
    return { deviceId: rest[0], kind: rest[1], command: rest[2]! };
  }
  return undefined;
}
