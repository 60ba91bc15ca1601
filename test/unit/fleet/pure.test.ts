import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDeviceId, sanitizeDeviceId } from '../../../src/config/device-id.js';
import { backoffDelayMs, isProtocolRefusal, TakeoverDetector } from '../../../src/fleet/backoff.js';
import { type ResultMessage, ResultsGate, resultSignature } from '../../../src/fleet/results.js';
import {
  anyDeviceResponse,
  deviceTopics,
  fleetStateTopics,
  groupRequestTopic,
  parseDeviceTopic,
  parseRequestTopic,
} from '../../../src/fleet/topics.js';

describe('topics', () => {
  const t = deviceTopics('edge-agent', 'cam-1');
  it('follows the DESIGN.md layout', () => {
    expect([
      t.availability,
      t.info,
      t.telemetry,
      t.results,
      t.events,
      t.request('ping'),
      t.response('ping'),
      t.requests,
    ]).toEqual([
      'edge-agent/cam-1/availability',
      'edge-agent/cam-1/info',
      'edge-agent/cam-1/telemetry',
      'edge-agent/cam-1/results',
      'edge-agent/cam-1/events',
      'edge-agent/cam-1/request/ping',
      'edge-agent/cam-1/response/ping',
      'edge-agent/cam-1/request/+',
    ]);
  });

  it('builds the fleet side too (what `edge-agent fleet` subscribes to)', () => {
    expect(fleetStateTopics('edge-agent')).toEqual([
      'edge-agent/+/availability',
      'edge-agent/+/info',
      'edge-agent/+/telemetry',
    ]);
    expect(anyDeviceResponse('edge-agent', 'set-fps')).toBe('edge-agent/+/response/set-fps');
    expect(groupRequestTopic('edge-agent', 'lab', 'ping')).toBe('edge-agent/group/lab/request/ping');
  });

  it.each([
    ['edge-agent/cam-1/request/ping', { scope: { kind: 'device' }, command: 'ping' }],
    ['edge-agent/group/lab/request/set-fps', { scope: { kind: 'group', group: 'lab' }, command: 'set-fps' }],
    ['edge-agent/group/other/request/ping', undefined],
    ['edge-agent/cam-2/request/ping', undefined],
    ['edge-agent/cam-1/response/ping', undefined],
    ['edge-agent/cam-1/request/', undefined],
    ['other/cam-1/request/ping', undefined],
    ['edge-agent/cam-1/request/ping/extra', undefined],
  ])('parses %s', (topic, expected) => {
    expect(parseRequestTopic(topic, 'edge-agent', 'cam-1', ['lab'])).toEqual(expected);
  });

  it('parses device topics for fleet watchers, with multi-level prefixes', () => {
    expect(parseDeviceTopic('site/a/cam-1/telemetry', 'site/a')).toEqual({
      deviceId: 'cam-1',
      kind: 'telemetry',
    });
    expect(parseDeviceTopic('site/a/cam-1/response/ping', 'site/a')).toEqual({
      deviceId: 'cam-1',
      kind: 'response',
      command: 'ping',
    });
    expect(parseDeviceTopic('site/a/group/lab/request/ping', 'site/a')).toBeUndefined();
  });
});

describe('backoff', () => {
  it('grows exponentially, is capped, and jitters within [ceiling/2, ceiling]', () => {
    const low = (a: number) => backoffDelayMs(a, 1000, 60_000, () => 0);
    const high = (a: number) => backoffDelayMs(a, 1000, 60_000, () => 1);
    expect([0, 1, 2, 3, 6, 7, 100].map(low)).toEqual([500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
    expect([0, 1, 2, 3, 6, 7, 100].map(high)).toEqual([1000, 2000, 4000, 8000, 60_000, 60_000, 60_000]);
  });

  it('recognises protocol refusals of MQTT 3.1.1 and 5', () => {
    expect([1, 132, 4, 0, undefined].map(isProtocolRefusal)).toEqual([true, true, false, false, false]);
  });

  it('confirms a takeover from reason 142 and suspects one after repeated short sessions', () => {
    const d = new TakeoverDetector(30_000, 3);
    expect(d.observe({ livedMs: 100_000 })).toBe('none');
    expect(d.observe({ livedMs: 200 })).toBe('none');
    expect(d.observe({ livedMs: 300 })).toBe('none');
    expect(d.observe({ livedMs: 250 })).toBe('suspected');
    expect(d.observe({ livedMs: 40_000 })).toBe('none');
    expect(d.observe({ livedMs: 100, disconnectReason: 142 })).toBe('confirmed');
  });
});

describe('results gate', () => {
  const result = (score: number, x = 10): ResultMessage => ({
    ts: 0,
    seq: 0,
    model: 'm',
    variant: 'v',
    task: 'detection',
    imageWidth: 100,
    imageHeight: 100,
    timings: { preprocessMs: 1, inferenceMs: 1, postprocessMs: 1 },
    detections: [{ label: 'cat', classId: 15, score, box: [x, 10, 50, 50] }],
  });

  it('skips identical consecutive results in on-change mode (noise below the rounding ignored)', () => {
    const gate = new ResultsGate({ enabled: true, qos: 0, maxPerS: 100, mode: 'on-change' });
    expect(gate.offer(result(0.9), 0)).toBe(true);
    expect(gate.offer(result(0.901), 1000)).toBe(false);
    expect(gate.offer(result(0.95), 2000)).toBe(true);
    expect(gate.offer(result(0.95, 30), 3000)).toBe(true);
    expect(gate.skippedSame).toBe(1);
    expect(resultSignature(result(0.9))).toBe('m/v|15:0.90:10,10,50,50');
  });

  it('rate-limits in every mode and can be disabled', () => {
    const gate = new ResultsGate({ enabled: true, qos: 1, maxPerS: 2, mode: 'every' });
    const sent = [0, 100, 499, 500, 900, 1000].filter((t) => gate.offer(result(0.9), t));
    expect(sent).toEqual([0, 500, 1000]);
    gate.configure({ enabled: false, qos: 0, maxPerS: 2, mode: 'every' });
    expect(gate.offer(result(0.9), 5000)).toBe(false);
  });
});

describe('device id', () => {
  it('prefers the configured id, then the machine id, then the host name', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ea-root-'));
    expect(resolveDeviceId('cam-9', root)).toBe('cam-9');
    mkdirSync(path.join(root, 'etc'));
    writeFileSync(path.join(root, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
    expect(resolveDeviceId(undefined, root)).toBe('0123456789abcdef0123456789abcdef');
    const empty = mkdtempSync(path.join(tmpdir(), 'ea-root-'));
    expect(resolveDeviceId(undefined, empty)).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(sanitizeDeviceId(' my host.local ')).toBe('my-host-local');
    expect(sanitizeDeviceId('///')).toBeUndefined();
  });
});
