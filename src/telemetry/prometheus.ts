import type { TelemetryRecord } from './record.js';

/** `latencyInferenceP95Ms` → `edge_agent_latency_inference_p95_ms`. */
export function metricName(field: string, prefix = 'edge_agent'): string {
  const snake = field
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
  return `${prefix}_${snake}`;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

const INFO_FIELDS = ['model', 'variant', 'executionProvider', 'powerMode', 'cameraState'] as const;
const SKIP = new Set(['ts', 'deviceId', ...INFO_FIELDS]);

/**
 * The same figures as the telemetry message, in the Prometheus text format for `/metrics`:
 * one gauge per numeric field (booleans as 0/1), and the text fields as labels of an info gauge.
 */
export function toPrometheus(record: TelemetryRecord, prefix = 'edge_agent'): string {
  const device = `device="${escapeLabel(record.deviceId)}"`;
  const lines: string[] = [];
  for (const [field, value] of Object.entries(record)) {
    if (SKIP.has(field)) continue;
    const n = typeof value === 'boolean' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n)) continue;
    const name = metricName(field, prefix);
    lines.push(`# TYPE ${name} gauge`, `${name}{${device}} ${n}`);
  }
  const info = INFO_FIELDS.filter((f) => typeof record[f] === 'string').map(
    (f) => `${metricName(f, '').slice(1)}="${escapeLabel(String(record[f]))}"`,
  );
  lines.push(`# TYPE ${prefix}_info gauge`, `${prefix}_info{${[device, ...info].join(',')}} 1`);
  return `${lines.join('\n')}\n`;
}
