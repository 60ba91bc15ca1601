import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { openDatabase } from '../../../src/store/database.js';
import { Store } from '../../../src/store/index.js';
import { MIGRATIONS } from '../../../src/store/migrations.js';
import { Outbox } from '../../../src/store/outbox.js';
import { Benchmarks, CommandAudit, Decisions, EventLog } from '../../../src/store/records.js';
import { FakeClock } from '../../helpers/fake-clock.js';

describe('store records', () => {
  it('migrates a version-1 database forward without touching its rows', () => {
    const db = openDatabase({ file: ':memory:', migrations: MIGRATIONS.slice(0, 1) });
    db.prepare(
      "INSERT INTO agent_runs (started_at, version, model, variant) VALUES (1, '0.1.0', 'm', 'v')",
    ).run();
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    const file = db.serialize();
    db.close();
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-migrate-'));
    const target = path.join(dir, 'db.sqlite');
    writeFileSync(target, file);
    const upgraded = openDatabase({ file: target });
    expect(upgraded.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(upgraded.prepare('SELECT count(*) AS n FROM agent_runs').get()).toEqual({ n: 1 });
    upgraded.close();
  });

  it('caches benchmarks by device, file, session options and runtime', () => {
    const clock = new FakeClock();
    const b = new Benchmarks(openDatabase({ file: ':memory:' }), clock);
    const key = { deviceFingerprint: 'pi5', variantSha256: 'ab', sessionKey: 'cpu:4', ortVersion: '1.30.0' };
    expect(b.get(key)).toBeUndefined();
    b.put(key, { p95Ms: 12 });
    b.put(key, { p95Ms: 11 });
    expect(b.get<{ p95Ms: number }>(key)).toMatchObject({ measuredAt: clock.now(), result: { p95Ms: 11 } });
    expect(b.get({ ...key, ortVersion: '1.31.0' })).toBeUndefined();
    expect(b.invalidate('pi5')).toBe(1);
  });

  it('records decisions newest first', async () => {
    const clock = new FakeClock();
    const d = new Decisions(openDatabase({ file: ':memory:' }), clock);
    d.add({ model: 'm', variant: 'fp32', reason: 'first', record: { candidates: 1 } });
    await clock.advance(1000);
    d.add({ model: 'm', variant: 'int8', reason: 'faster', record: { candidates: 2 } });
    expect(d.latest()).toMatchObject({ variant: 'int8', reason: 'faster', record: { candidates: 2 } });
    expect(d.list().map((x) => x.variant)).toEqual(['int8', 'fp32']);
  });

  it('writes events to the table and the outbox in one transaction', () => {
    const clock = new FakeClock();
    const db = openDatabase({ file: ':memory:' });
    const outbox = new Outbox({ db, clock, limits: { maxRows: 100, maxAgeS: 60 } });
    const events = new EventLog({ db, clock, outbox, topic: 'p/d/events' });
    const id = events.emit('model-switched', { to: 'int8' });
    expect(events.list()[0]).toMatchObject({
      id,
      type: 'model-switched',
      severity: 'info',
      data: { to: 'int8' },
    });
    const [queued] = outbox.next(0, 10);
    expect(queued!.topic).toBe('p/d/events');
    expect(JSON.parse(queued!.payload.toString())).toMatchObject({ id, type: 'model-switched', to: 'int8' });
    expect(events.purge(clock.now() + 1)).toBe(1);
  });

  it('drops an event emitted after the database closed instead of throwing (a component winding down)', () => {
    const db = openDatabase({ file: ':memory:' });
    const events = new EventLog({ db, clock: new FakeClock() });
    expect(events.emit('before-close')).toBeGreaterThan(0);
    db.close();
    expect(events.emit('tuning-failed', { trigger: 'agent-start' }, 'error')).toBe(-1);
  });

  it('audits commands with long fields truncated', () => {
    const audit = new CommandAudit(openDatabase({ file: ':memory:' }), new FakeClock());
    audit.add({ command: 'ping', scope: 'device', topic: 'p/d/request/ping', status: 'ok', durationMs: 1 });
    audit.add({
      command: 'x'.repeat(500),
      scope: 'group:lab',
      topic: 't',
      transaction: 't1',
      params: { big: 'y'.repeat(10_000) },
      status: 'error',
      error: 'bad',
      durationMs: 2,
    });
    const [last, first] = audit.list();
    expect(first).toMatchObject({ command: 'ping', status: 'ok', transaction: undefined, params: undefined });
    expect(last!.command.length).toBeLessThanOrEqual(129);
    expect(typeof last!.params).toBe('string'); // truncated JSON is kept as text
    expect(last).toMatchObject({ scope: 'group:lab', transaction: 't1', error: 'bad' });
    expect(audit.count()).toBe(2);
  });

  it('maintenance rolls up, enforces bounds, purges and checkpoints the WAL below its limit', async () => {
    const clock = new FakeClock();
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-store-'));
    const config = parseConfig({
      store: { walLimitMB: 0.05, metrics: { rawRetentionS: 60, rollupS: 60 } },
    }).store;
    const store = new Store({ file: path.join(dir, 'db.sqlite'), config, clock, log: silentLogger() });
    for (let i = 0; i < 2000; i++) store.metrics.record(clock.now() + i, { fps: i, pad: 'x'.repeat(200) });
    store.events.emit('old');
    await clock.advance(31 * 86_400_000);
    const report = store.maintain();
    expect(report.rolledUp).toBe(2000);
    expect(report.eventsDeleted).toBe(1);
    expect(report.checkpointBusy).toBe(false);
    expect(statSync(path.join(dir, 'db.sqlite-wal')).size).toBeLessThanOrEqual(0.05 * 1024 * 1024);
    await store.stop();
  });

  it('runs maintenance on its period and stops promptly', async () => {
    const clock = new FakeClock();
    const config = parseConfig({ store: { maintenanceIntervalS: 10 } }).store;
    const store = new Store({ file: ':memory:', config, clock, log: silentLogger() });
    store.outbox.enqueue({ kind: 'k', topic: 't', payload: 'x' });
    store.start();
    await clock.advance(config.outbox.maxAgeS * 1000 + 10_000);
    expect(store.outbox.stats().droppedTotal).toBe(1);
    await store.stop();
    expect(store.db.open).toBe(false);
  });
});
