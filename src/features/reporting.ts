import type { AgentConfig } from '../config/index.js';
import type { Feature } from './feature.js';

export interface ReportingFeatureDeps {
  /** The telemetry reporter's interval. */
  setTelemetryIntervalS?(seconds: number): void;
  /** The results gate of the MQTT link (rate, on-change, QoS). */
  setResultsPolicy?(policy: AgentConfig['mqtt']['results']): void;
}

/** What the device reports and how often: the live keys `telemetry.intervalS` and `mqtt.results`. */
export function reportingFeature(deps: ReportingFeatureDeps): Feature {
  return {
    name: 'reporting',
    live: [
      { prefix: 'telemetry.intervalS', apply: (c) => deps.setTelemetryIntervalS?.(c.telemetry.intervalS) },
      { prefix: 'mqtt.results', apply: (c) => deps.setResultsPolicy?.(c.mqtt.results) },
    ],
  };
}
