import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentProcess } from '../../helpers/agent-process.js';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { MODELS, REPO } from '../../helpers/paths.js';
import { waitUntil } from '../../helpers/wait.js';
import { Observer, request } from '../mqtt/support.js';

/**
 * No loadable model at all — `models.dir` missing, or a folder without any model — used to end
 * `edge-agent run` (systemd restart-looped it into the same fault). Now the agent starts degraded:
 * HTTP and MQTT serve, the `model-unavailable` fault says why, inference is off (503), and the
 * catalogue is retried on a backoff; `set-model` ends the wait at once. Real processes throughout.
 */
interface Health {
  status: string;
  pipeline: string;
  faults: Array<{ id: string; severity: string; message: string }>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-nomodel-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function start(config: Record<string, unknown>): AgentProcess {
  const agent = AgentProcess.start({
    camera: { source: `images:${path.join(REPO, 'samples')}`, fps: 5 },
    ...config,
  });
  cleanups.push(async () => {
    if (!agent.exit) await agent.terminate();
    rmSync(agent.dir, { recursive: true, force: true });
  });
  return agent;
}

async function health(url: string): Promise<Health> {
  return (await (await fetch(`${url}/healthz`)).json()) as Health;
}

function waitForHealth(url: string, ok: (h: Health) => boolean, agent: AgentProcess): Promise<Health> {
  let last: Health | undefined;
  return waitUntil(
    () => {
      if (agent.exit) throw new Error(`the agent exited (${JSON.stringify(agent.exit)})\n${agent.log()}`);
      health(url).then(
        (h) => (last = h),
        () => undefined,
      );
      return last && ok(last) ? last : undefined;
    },
    60_000,
    () => `health not reached; last ${JSON.stringify(last)}\n${agent.log()}`,
  );
}

const inferSample = (url: string) =>
  fetch(`${url}/api/infer`, {
    method: 'POST',
    headers: { 'Content-Type': 'image/jpeg' },
    body: new Uint8Array(readFileSync(path.join(REPO, 'samples', '000000086956.jpg'))),
  });

describe.runIf(requireMosquitto())('no loadable model: the agent starts degraded', () => {
  it('models.dir missing: HTTP and MQTT serve, the fault is reported, set-model brings inference on', async () => {
    const dir = tempDir();
    const modelsDir = path.join(dir, 'models');
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const agent = start({
      deviceId: 'nomodel',
      models: { dir: modelsDir, default: 'squeezenet1.1' },
      mqtt: { url: broker.url },
      telemetry: { intervalS: 1 },
    });
    const url = await agent.url();

    const down = await waitForHealth(url, (h) => h.faults.some((f) => f.id === 'model-unavailable'), agent);
    expect(down.status).toBe('degraded');
    expect(down.pipeline).toBe('idle');
    const fault = down.faults.find((f) => f.id === 'model-unavailable')!;
    expect(fault.severity).toBe('error');
    expect(fault.message).toContain(`cannot list models in ${modelsDir}`);
    expect(fault.message).toMatch(/inference is off, retrying/);

    // Inference is off: an upload is 503 with the reason, not a 500 or a crash.
    const infer = await inferSample(url);
    expect(infer.status).toBe(503);
    expect(((await infer.json()) as { error: string }).error).toMatch(
      /^no model is loaded: cannot list models/,
    );

    // The dashboard and the status API serve.
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const apiStatus = (await (await fetch(`${url}/api/status`)).json()) as { pipeline: { state: string } };
    expect(apiStatus.pipeline.state).toBe('idle');

    // MQTT: commands answer; get-status carries the fault.
    const observer = await Observer.connect(broker.url, {}, ['edge-agent/nomodel/#']);
    cleanups.push(() => observer.close());
    await waitUntil(
      () => observer.on('edge-agent/nomodel/availability').some((m) => m.payload.toString() === 'online'),
      30_000,
      () => agent.log(),
    );
    const status = await request(observer, 'edge-agent', 'nomodel', 'get-status');
    expect(status).toMatchObject({ status: 'ok' });
    const health = (status.data as { health: Health }).health;
    expect(health.status).toBe('degraded');
    expect(health.faults.map((f) => f.id)).toContain('model-unavailable');
    const list = await request(observer, 'edge-agent', 'nomodel', 'list-models');
    expect(list).toMatchObject({ status: 'ok', data: { models: [] } });
    const setConfig = await request(observer, 'edge-agent', 'nomodel', 'set-config', {
      patch: { telemetry: { intervalS: 2 } },
    });
    expect(setConfig.status).toBe('ok');
    const deploy = await request(observer, 'edge-agent', 'nomodel', 'deploy-model', {
      manifest: { bogus: true },
    });
    expect(deploy.status).toBe('error');
    const unknown = await request(observer, 'edge-agent', 'nomodel', 'set-model', { model: 'squeezenet1.1' });
    expect(unknown).toMatchObject({ status: 'error' });
    expect(String(unknown.error)).toMatch(/cannot list models in .*ENOENT/);
    await waitUntil(
      () =>
        observer
          .json('edge-agent/nomodel/telemetry')
          .find((t) => String(t.faults).includes('model-unavailable')),
      30_000,
      () => agent.log(),
    );
    expect(agent.exit).toBeUndefined();

    // A model arrives; set-model loads it at once (without waiting for the next retry).
    mkdirSync(modelsDir);
    cpSync(path.join(MODELS, 'squeezenet1.1'), path.join(modelsDir, 'squeezenet1.1'), { recursive: true });
    const set = await request(
      observer,
      'edge-agent',
      'nomodel',
      'set-model',
      { model: 'squeezenet1.1' },
      60_000,
    );
    expect(set).toMatchObject({ status: 'ok', data: { model: 'squeezenet1.1' } });
    await agent.waitFor((l) => l.msg === 'inference', 60_000);
    const up = await waitForHealth(url, (h) => h.status === 'ok', agent);
    expect(up).toMatchObject({ pipeline: 'running', faults: [] });
    expect((await inferSample(url)).status).toBe(200);

    expect(await agent.terminate()).toMatchObject({ code: 0, signal: null });
    const db = new Database(path.join(agent.dataDir, 'edge-agent.db'), { readonly: true });
    const types = (db.prepare('SELECT type FROM events ORDER BY id').all() as Array<{ type: string }>).map(
      (e) => e.type,
    );
    db.close();
    expect(types).toContain('model-unavailable');
    expect(types).toContain('model-available');
  }, 180_000);

  it('a models folder without any model: retried on a backoff, inference starts when one is copied in', async () => {
    const dir = tempDir();
    const modelsDir = path.join(dir, 'models');
    mkdirSync(modelsDir);
    const agent = start({
      models: { dir: modelsDir, default: 'squeezenet1.1' },
      mqtt: { embedded: { port: 0 } },
    });
    const url = await agent.url();
    const down = await waitForHealth(url, (h) => h.faults.some((f) => f.id === 'model-unavailable'), agent);
    expect(down.faults.find((f) => f.id === 'model-unavailable')!.message).toContain(
      `no model in ${modelsDir}`,
    );
    await agent.waitFor((l) => l.msg === 'still no loadable model');
    expect(agent.exit).toBeUndefined();
    // The tuner could not start without a model…
    await agent.waitFor((l) => l.msg === 'tuner start failed; the configured variant serves');
    expect(agent.log()).not.toContain('tuner started');

    cpSync(path.join(MODELS, 'squeezenet1.1'), path.join(modelsDir, 'squeezenet1.1'), { recursive: true });
    await agent.waitFor((l) => l.msg === 'a model is loaded: inference on', 90_000);
    await agent.waitFor((l) => l.msg === 'inference', 60_000);
    // …and starts with the first model (not only after a restart).
    await agent.waitFor((l) => String(l.msg).startsWith('tuner started'), 60_000);
    expect((await waitForHealth(url, (h) => h.status === 'ok', agent)).faults).toEqual([]);
    expect(await agent.terminate()).toMatchObject({ code: 0, signal: null });
  }, 180_000);

  it('every model corrupt: degraded with the verification error, and SIGTERM ends it with code 0', async () => {
    const dir = tempDir();
    const modelsDir = path.join(dir, 'models');
    cpSync(path.join(MODELS, 'squeezenet1.1'), path.join(modelsDir, 'squeezenet1.1'), { recursive: true });
    // Every variant's file replaced by zeros of the same size: none passes its sha256.
    for (const file of readdirSync(path.join(modelsDir, 'squeezenet1.1')).filter((f) =>
      f.endsWith('.onnx'),
    )) {
      const full = path.join(modelsDir, 'squeezenet1.1', file);
      writeFileSync(full, Buffer.alloc(readFileSync(full).length));
    }
    const agent = start({
      models: { dir: modelsDir, default: 'squeezenet1.1' },
      mqtt: { embedded: { port: 0 } },
    });
    const url = await agent.url();
    const down = await waitForHealth(url, (h) => h.faults.some((f) => f.id === 'model-unavailable'), agent);
    expect(down.faults.find((f) => f.id === 'model-unavailable')!.message).toMatch(/sha256/);
    expect(down.pipeline).toBe('idle');
    expect(await agent.terminate()).toMatchObject({ code: 0, signal: null });
  }, 180_000);
});
