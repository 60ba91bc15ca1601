// arm64-check: the SQLite outbox round trip with the cross-compiled better-sqlite3, run by the
// arm64 node: open a store, queue messages, reopen (durability), read them back, ack, reopen empty.
// Usage: node outbox-roundtrip.mjs APP_DIR WORK_DIR   (APP_DIR holds dist/ and node_modules/)
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [app, work] = process.argv.slice(2);
const { Store } = await import(pathToFileURL(path.join(app, 'dist/store/index.js')).href);
const { parseConfig } = await import(pathToFileURL(path.join(app, 'dist/config/index.js')).href);
const { silentLogger } = await import(pathToFileURL(path.join(app, 'dist/log.js')).href);
const { systemClock } = await import(pathToFileURL(path.join(app, 'dist/clock.js')).href);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const deps = {
  file: path.join(work, 'agent.db'),
  config: parseConfig({}).store,
  clock: systemClock,
  log: silentLogger(),
};
const payloads = Array.from({ length: 100 }, (_, i) => JSON.stringify({ i, text: `é${i}` }));
let store = new Store(deps);
store.outbox.enqueueMany(payloads.map((payload) => ({ kind: 'telemetry', topic: 't/x', payload, qos: 1 })));
await store.stop();
store = new Store(deps);
const rows = store.outbox.next(0, 1000);
const same = rows.length === 100 && rows.every((r, i) => r.payload.toString('utf8') === payloads[i]);
if (!same) {
  console.log(`read back ${rows.length} rows, payloads ${same ? 'equal' : 'differ'}`);
  process.exit(1);
}
store.outbox.ackMany(rows.map((r) => r.id));
await store.stop();
store = new Store(deps);
const left = store.outbox.next(0, 1000).length;
await store.stop();
if (left !== 0) {
  console.log(`${left} rows left after ack`);
  process.exit(1);
}
console.log(`100 messages queued, survived a reopen, read back byte-equal, acked, 0 left (${process.arch})`);
