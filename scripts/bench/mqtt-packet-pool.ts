// What mqtt-packet's remaining-length cache keeps alive (src/fleet/packet-cache.ts): each packet
// size below 16 384 it writes is cached as a slice of Node's shared Buffer pool, and the slice keeps
// its whole pool chunk (Buffer.poolSize: 64 KiB on Node 24, 8 KiB before) alive for ever. A child
// process per mode (the cache is module-global) writes QoS 0 publishes of N distinct sizes to a
// sink, with other pooled allocations between them as a busy process has (KiB per packet, as
// given), collects garbage and reports the ArrayBuffer memory left against before the first packet.
// Run with `npm run bench:mqtt-packet-pool [-- --sizes 500 --churn-kb 8,64 --out NAME]`; writes
// bench/NAME.json and .md (default mqtt-packet-pool).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeStandalone } from './stats.js';

const MODES = ['own', 'tamed'] as const;
type Mode = (typeof MODES)[number];

interface Row {
  mode: Mode;
  sizes: number;
  churnKb: number;
  poolSize: number;
  retainedArrayBuffersMB: number;
  rssDeltaMB: number;
}

// ES module run with tsx, so the tamed writer is the agent's own (src/fleet/packet-cache.ts).
const CHILD = `
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
const [mode, sizes, churnKb, root] = process.argv.slice(1);
const req = createRequire(root + '/package.json');
const own = createRequire(req.resolve('mqtt'))('mqtt-packet').writeToStream;
const { unpooledWriter } = await import(root + '/src/fleet/packet-cache.ts');
own.cacheNumbers = false; // as the agent runs it: no pre-generated packet ids (packet-cache.ts)
const write = mode === 'tamed' ? unpooledWriter(own) : own;
const sink = new Writable({ write(_c, _e, done) { done(); } });
const rssMB = () => process.memoryUsage().rss / 1048576;
gc();
await new Promise((resolve) => setTimeout(resolve, 20));
gc();
const before = process.memoryUsage().arrayBuffers;
const rssBefore = rssMB();
const churn = [];
for (let i = 0; i < Number(sizes); i++) {
  const length = 200 + i * 7;
  write({ cmd: 'publish', topic: 't/x', payload: Buffer.alloc(length - 5), qos: 0, dup: false, retain: false }, sink, {});
  // other pooled allocations before the next new size, short-lived, as a busy process makes them
  for (let k = 0; k < Number(churnKb); k++) churn.push(Buffer.from('x'.repeat(1024)));
  churn.length = 0;
}
// ArrayBuffers are freed by the sweeper after a collection: collect until the figure settles.
for (let i = 0; i < 5; i++) {
  await new Promise((resolve) => setTimeout(resolve, 20));
  gc();
}
const retained = process.memoryUsage().arrayBuffers - before;
console.log(JSON.stringify({ poolSize: Buffer.poolSize, retained, rssDelta: rssMB() - rssBefore }));
`;

function measure(options: { sizes: number; churnKb: number[] }): Row[] {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const rows: Row[] = [];
  for (const churnKb of options.churnKb) {
    for (const mode of MODES) {
      const out = execFileSync(
        process.execPath,
        [
          '--expose-gc',
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          CHILD,
          mode,
          String(options.sizes),
          String(churnKb),
          root,
        ],
        { encoding: 'utf8', cwd: root },
      );
      const r = JSON.parse(out.trim().split('\n').at(-1) ?? '') as {
        poolSize: number;
        retained: number;
        rssDelta: number;
      };
      rows.push({
        mode,
        sizes: options.sizes,
        churnKb,
        poolSize: r.poolSize,
        retainedArrayBuffersMB: Math.round((r.retained / 1048576) * 100) / 100,
        rssDeltaMB: Math.round(r.rssDelta * 10) / 10,
      });
    }
  }
  return rows;
}

/** The `mqtt-packet-pool` section of `npm run bench` (defaults: 500 sizes, 8 and 64 KiB between them). */
export async function benchMqttPacketPool(
  options: { sizes?: number; churnKb?: number[] } = {},
): Promise<{ json: unknown; markdown: string }> {
  const sizes = options.sizes ?? 500;
  const rows = measure({ sizes, churnKb: options.churnKb ?? [8, 64] });
  const markdown = [
    `Node ${process.version}, ${sizes} distinct packet sizes; ArrayBuffer memory still held after garbage collection`,
    '',
    '| writer | pooled KiB between new sizes | Buffer.poolSize | retained MB | RSS delta MB |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.mode === 'own' ? "mqtt-packet's own" : 'tamed (the agent)'} | ${r.churnKb} | ${r.poolSize} | ${r.retainedArrayBuffersMB} | ${r.rssDeltaMB} |`,
    ),
    '',
  ].join('\n');
  return { json: { node: process.version, rows }, markdown };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '500' },
      'churn-kb': { type: 'string', default: '8,64' },
      out: { type: 'string', default: 'mqtt-packet-pool' },
    },
  });
  const sizes = Number(values.sizes);
  const churnKb = values['churn-kb'].split(',').map(Number);
  if (
    !Number.isInteger(sizes) ||
    sizes < 1 ||
    sizes > 2000 ||
    churnKb.some((k) => !Number.isInteger(k) || k < 0)
  ) {
    throw new Error('--sizes: an integer 1–2000; --churn-kb: integers ≥ 0, comma-separated');
  }
  if (!/^[A-Za-z0-9._-]+$/.test(values.out)) throw new Error('--out: a plain file name');
  writeStandalone(values.out, await benchMqttPacketPool({ sizes, churnKb }));
}
