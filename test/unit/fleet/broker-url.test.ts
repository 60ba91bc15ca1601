import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { brokerConnectOptions } from '../../../src/fleet/broker-url.js';

// MQTT.js configured from our options must match MQTT.js configured from the URL string (its own
// url.parse), field by field, for the shapes of URL operators write. No connection is made
// (manualConnect: no stream, no timer, nothing to end).

const FIELDS = ['protocol', 'host', 'hostname', 'port', 'username', 'password', 'path', 'clientId'] as const;
function configured(client: MqttClient) {
  const o = client.options as Record<string, unknown>;
  return Object.fromEntries(FIELDS.map((k) => [k, o[k]]));
}

const URLS = [
  'mqtt://broker.lan',
  'mqtt://Broker.LAN:1884',
  'mqtts://user:p%40ss%3Aword@host.example:8883',
  'mqtt://only-user@10.0.0.2',
  'tcp://127.0.0.1:1883',
  'ssl://broker:8883',
  'ws://host:9001/mqtt?clientId=from-url',
  'wss://u:p@[::1]:443/path/to?x=1&x=2',
  'mqtt://[fe80::1]:1883',
  'ws://h:80',
  'wss://h',
];

describe('brokerConnectOptions', () => {
  it.each(URLS)('configures MQTT.js as the URL string does: %s', (url) => {
    const options: IClientOptions = { manualConnect: true, clientId: 'fixed', reconnectPeriod: 0 };
    const fromString = configured(mqtt.connect(url, { ...options }));
    const fromOptions = configured(mqtt.connect(brokerConnectOptions(url, { ...options })));
    expect(fromOptions).toEqual(fromString);
    expect(fromOptions.host).toBeTruthy();
  });

  it('lets the options given win, as MQTT.js merges them, and refuses what does not parse', () => {
    expect(brokerConnectOptions('mqtt://a:1883', { port: 1999, host: 'b' })).toMatchObject({
      port: 1999,
      host: 'b',
      protocol: 'mqtt',
    });
    expect(() => brokerConnectOptions('not a url')).toThrow();
  });
});
