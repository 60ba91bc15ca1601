// Decompression-bomb memory check (docs/http.md): starts `edge-agent run` from REPO (default: this
// repo) on free ports, posts a 16000×16000 PNG, a 120-byte SVG and four PNG bombs at once to
// POST /api/infer, and prints the status codes with the agent's RSS and peak RSS (VmHWM).
//   node scripts/measure-image-bombs.mjs [REPO]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';

const repo = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const dir = mkdtempSync(path.join(tmpdir(), 'ea-bombs-'));
writeFileSync(
  path.join(dir, 'agent.config.json'),
  JSON.stringify({
    dataDir: path.join(dir, 'data'),
    models: { dir: path.join(repo, 'models'), default: 'squeezenet1.1' },
    camera: { source: `images:${path.join(repo, 'samples')}`, fps: 2 },
    inference: { threads: 1 },
    http: { port: 0 },
    mqtt: { embedded: { port: 0 } },
  }),
);
const bomb = await sharp({ create: { width: 16000, height: 16000, channels: 3, background: '#000' } })
  .png({ adaptiveFiltering: false })
  .toBuffer();
const svg =
  '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="100%" height="100%"/></svg>';
const loader = pathToFileURL(path.join(repo, 'node_modules/tsx/dist/loader.mjs')).href;
const child = spawn(
  process.execPath,
  ['--import', loader, path.join(repo, 'src/cli.ts'), 'run', '--config', path.join(dir, 'agent.config.json')],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let out = '';
const url = await new Promise((resolve) =>
  child.stdout.on('data', (d) => {
    out += d;
    const m = /"url":"(http[^"]+)"/.exec(out);
    if (m) resolve(m[1]);
  }),
);
await new Promise((r) => setTimeout(r, 3000));
const mem = () => {
  const s = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const mb = (k) => Math.round(Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)[1]) / 1024);
  return `rss ${mb('VmRSS')} MB, peak ${mb('VmHWM')} MB`;
};
const post = async (body, type) =>
  (await fetch(`${url}/api/infer`, { method: 'POST', headers: { 'Content-Type': type }, body })).status;
console.log(`${repo}: PNG bomb ${bomb.length} bytes; before: ${mem()}`);
console.log(`PNG 16000x16000 -> ${await post(bomb, 'image/png')}; ${mem()}`);
console.log(`SVG ${svg.length} B -> ${await post(svg, 'application/octet-stream')}; ${mem()}`);
const four = await Promise.all([1, 2, 3, 4].map(() => post(bomb, 'image/png')));
console.log(`4 concurrent PNG bombs -> ${four.join(',')}; ${mem()}`);
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
rmSync(dir, { recursive: true, force: true });
