import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deviceTopics } from '../../../src/fleet/topics.js';
import { telemetryRecordSchema } from '../../../src/telemetry/record.js';
import { REPO } from '../../helpers/paths.js';

const conf = readFileSync(path.join(REPO, 'deploy/telegraf.conf'), 'utf8');

function list(key: string): string[] {
  const m = new RegExp(`^\\s*${key}\\s*=\\s*\\[([^\\]]*)\\]`, 'm').exec(conf);
  if (!m) throw new Error(`${key} not found in deploy/telegraf.conf`);
  return [...m[1]!.matchAll(/"([^"]+)"/g)].map((x) => x[1]!);
}

function value(key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`, 'm').exec(conf)?.[1];
}

describe('deploy/telegraf.conf', () => {
  it('subscribes to the telemetry topic of every device and reads the sample time', () => {
    expect(list('topics')).toEqual([deviceTopics('edge-agent', '+').telemetry]);
    expect(value('data_format')).toBe('json');
    expect(value('json_time_key')).toBe('ts');
    expect(value('json_time_format')).toBe('unix_ms');
  });

  it('keeps every text and boolean telemetry field (the json parser drops unlisted ones)', () => {
    const shape = telemetryRecordSchema.shape;
    const nonNumeric = Object.entries(shape)
      .filter(([, s]) => {
        const inner = s instanceof z.ZodOptional ? s.unwrap() : s;
        return inner instanceof z.ZodString || inner instanceof z.ZodBoolean;
      })
      .map(([k]) => k)
      .sort();
    const kept = new Set([...list('tag_keys'), ...list('json_string_fields')]);
    expect(nonNumeric.filter((k) => !kept.has(k))).toEqual([]);
    expect(list('boolean')).toEqual(list('json_string_fields'));
  });
});
