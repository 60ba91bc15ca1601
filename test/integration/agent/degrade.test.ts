import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentProcess } from '../../helpers/agent-process.js';
import { MODELS, REPO } from '../../helpers/paths.js';
import { waitUntil } from '../../helpers/wait.js';

/**
 * Faults at start that used to end the process (so systemd restart-looped it): the agent now
 * keeps serving HTTP (and MQTT where it can), shows the fault in /healthz, and recovers or falls
 * back. Each case is a real `edge-agent run`.
 */
interface Health {
  status: string;
  pipeline: string;
  camera: string;
  faults: Array<{ id: string; severity: string; message: string }>;
}

const dirs: string[] = [];
const agents: AgentProcess[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) {
    if (!a.exit) await a.terminate();
    dirs.push(a.dir);
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-degrade-'));
  dirs.push(dir);
  return dir;
}

function start(config: Record<string, unknown>): AgentProcess {
  const agent = AgentProcess.start({
    models: { dir: MODELS, default: 'squeezenet1.1' },
    mqtt: { embedded: { port: 0 } },
    ...config,
  });
  agents.push(agent);
  return agent;
}

async function health(url: string): Promise<Health> {
  const res = await fetch(`${url}/healthz`);
  expect(res.status).toBe(200);
  return (await res.json()) as Health;
}

async function waitForHealth(url: string, ok: (h: Health) => boolean, agent: AgentProcess): Promise<Health> {
  let last: Health | undefined;
  return waitUntil(
    () => {
      if (agent.exit) throw new Error(`the agent exited (${JSON.stringify(agent.exit)})\n${agent.log()}`);
      health(url).then(
        (h) => (last = h),
        () => undefined, // the agent died: `agent.exit` and the timeout say so
      );
      return last && ok(last) ? last : undefined;
    },
    60_000,
    () => `health not reached; last ${JSON.stringify(last)}\n${agent.log()}`,
  );
}

describe('the agent degrades instead of exiting', () => {
  it('a missing image folder: serves, shows the camera fault, and picks the folder up when it appears', async () => {
    const dir = tempDir();
    const folder = path.join(dir, 'frames');
    const agent = start({
      camera: { source: `images:${folder}`, fps: 5, restartDelayS: 0.2, restartMaxDelayS: 1 },
    });
    const url = await agent.url();
    const down = await waitForHealth(url, (h) => h.faults.some((f) => f.id === 'camera'), agent);
    expect(down.status).toBe('degraded');
    expect(down.camera).toBe('offline');
    expect(down.faults.find((f) => f.id === 'camera')!.message).toContain(folder);
    expect(agent.exit).toBeUndefined();

    mkdirSync(folder);
    cpSync(path.join(REPO, 'samples', '000000086956.jpg'), path.join(folder, 'a.jpg'));
    const up = await waitForHealth(url, (h) => h.status === 'ok' && h.camera === 'online', agent);
    expect(up.faults).toEqual([]);
    await agent.waitFor((l) => l.msg === 'inference');
    expect(await agent.terminate()).toMatchObject({ code: 0, signal: null });
  }, 120_000);

  it('a missing CA file: HTTP and inference run, /healthz names the file, MQTT is retried', async () => {
    const dir = tempDir();
    const ca = path.join(dir, 'missing-ca.crt');
    const agent = start({
      mqtt: { url: 'mqtts://127.0.0.1:1', tls: { ca }, reconnect: { minDelayS: 0.2, maxDelayS: 1 } },
    });
    const url = await agent.url();
    const h = await waitForHealth(url, (x) => x.faults.some((f) => f.id === 'mqtt'), agent);
    expect(h.status).toBe('degraded');
    expect(h.faults.find((f) => f.id === 'mqtt')!.message).toMatch(
      /mqtt\.tls\.ca: cannot read .*missing-ca\.crt/,
    );
    await agent.waitFor((l) => l.msg === 'inference');
    const status = (await (await fetch(`${url}/api/status`)).json()) as { pipeline: { state: string } };
    expect(status.pipeline.state).toBe('running');
    expect(await agent.terminate()).toMatchObject({ code: 0, signal: null });
  }, 120_000);

  it('a corrupt default model: falls back to another verified variant, with an event and a fault', async () => {
    const dir = tempDir();
    const models = path.join(dir, 'models');
    cpSync(path.join(MODELS, 'squeezenet1.1'), path.join(models, 'squeezenet1.1'), { recursive: true });
    // Flip bytes in the middle of the fp32 file: its sha256 no longer matches the manifest.
    const fd = openSync(path.join(models, 'squeezenet1.1', 'squeezenet1.1.onnx'), 'r+');
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 100_000);
    closeSync(fd);
    const agent = start({ models: { dir: models, default: 'squeezenet1.1', variant: 'fp32' } });
    const url = await agent.url();
    const h = await waitForHealth(url, (x) => x.faults.some((f) => f.id === 'model-fallback'), agent);
    expect(h.status).toBe('degraded');
    expect(h.faults.find((f) => f.id === 'model-fallback')!.message).toMatch(
      /squeezenet1\.1\/fp32 cannot be loaded \(.*sha256.*\); running squeezenet1\.1\/fp16 instead/,
    );
    const status = (await (await fetch(`${url}/api/status`)).json()) as { model: { variant: string } };
    expect(status.model.variant).toBe('fp16');
    await agent.waitFor((l) => l.msg === 'inference');
    expect(await agent.terminate()).toMatchObject({ code: 0, signal: null });
    const db = new Database(path.join(agent.dataDir, 'edge-agent.db'), { readonly: true });
    const event = db.prepare("SELECT data FROM events WHERE type = 'model-fallback'").get() as {
      data: string;
    };
    db.close();
    expect(JSON.parse(event.data)).toMatchObject({
      wanted: 'squeezenet1.1/fp32',
      used: 'squeezenet1.1/fp16',
    });
  }, 120_000);
});
