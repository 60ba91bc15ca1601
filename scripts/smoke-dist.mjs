// CI smoke test of the compiled package (what Dockerfile.arm64 and deploy/edge-agent.service run):
// `node dist/cli.js run` must serve the dashboard from dist/, infer in its worker thread from dist/,
// and stop with exit code 0 on SIGTERM. Usage: node scripts/smoke-dist.mjs (after npm run build).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'ea-smoke-'));
const port = 18000 + Math.floor(Math.random() * 2000);
const config = path.join(dir, 'agent.config.json');
writeFileSync(
  config,
  JSON.stringify({
    dataDir: path.join(dir, 'data'),
    models: { dir: path.join(root, 'models') },
    camera: { source: `images:${path.join(root, 'samples')}`, fps: 5 },
    http: { port },
    mqtt: { embedded: { port: 0 } },
    log: { level: 'warn' },
  }),
);
const child = spawn(process.execPath, [path.join(root, 'dist/cli.js'), 'run', '--config', config], {
  stdio: 'inherit',
});
const fail = (why) => {
  child.kill('SIGKILL');
  console.error(`smoke-dist: ${why}`);
  process.exit(1);
};
const get = async (p) => {
  const res = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: res.status, text: await res.text() };
};
let latest;
for (let i = 0; i < 60 && !latest; i++) {
  await new Promise((r) => setTimeout(r, 500));
  if (child.exitCode !== null) fail(`agent exited with ${child.exitCode}`);
  latest = await get('/api/results/latest').then(
    (r) => (r.status === 200 ? JSON.parse(r.text) : undefined),
    () => undefined,
  );
}
if (!latest?.detections) fail(`no result within 30 s: ${JSON.stringify(latest)}`);
const page = await get('/');
if (!page.text.includes('<title>edge-agent</title>')) fail('dashboard page not served from dist/');
child.kill('SIGTERM');
const code = await new Promise((r) => child.once('exit', r));
rmSync(dir, { recursive: true, force: true });
if (code !== 0) fail(`exit code ${code} after SIGTERM`);
console.log(
  `smoke-dist: ok (${latest.model}/${latest.variant}, ${latest.detections.length} detections, clean stop)`,
);
