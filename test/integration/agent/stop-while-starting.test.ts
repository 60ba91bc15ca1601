import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModelHost } from '../../../src/agent/model-host.js';
import { Agent } from '../../../src/agent.js';
import { parseConfig } from '../../../src/config/index.js';
import { WorkerModel } from '../../../src/inference/worker-model.js';
import { silentLogger } from '../../../src/log.js';
import { MODELS, REPO } from '../../helpers/paths.js';

/**
 * A SIGTERM while the agent starts — systemd stopping a unit that just started, a reboot — used to
 * end `edge-agent run` with "internal error: The database connection is not open" (exit 1): stop()
 * closed the store while start() still waited for the model, which then went on with the closed
 * store. Real agent, real model, real pipeline worker.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function agent(): Agent {
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-stopstart-'));
  dirs.push(dir);
  return new Agent({
    config: parseConfig({
      dataDir: path.join(dir, 'data'),
      models: { dir: MODELS, default: 'yolox-nano' },
      inference: { threads: 1 },
      camera: { source: `images:${REPO}/samples`, fps: 5 },
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      log: { level: 'silent' },
    }),
    log: silentLogger(),
  });
}

describe('stopped while starting or switching', () => {
  it('during the model load: start() resolves, nothing starts after, and the model loaded meanwhile is released', async () => {
    const a = agent();
    // start() runs up to the model load before its first await: stop() comes in the middle of it.
    const starting = a.start();
    await a.stop();
    await expect(starting).resolves.toBeUndefined();
    const model = (a as unknown as { models: ModelHost }).models.model;
    // The load finished after stop() had released nothing: start() released it.
    expect(model?.name).toBe('yolox-nano');
    expect(model?.sessionReleased).toBe(true);
    expect(a.pipeline).toBeUndefined();
    expect(a.http).toBeUndefined();
    await expect(a.finished()).resolves.toBeUndefined();
  }, 60_000);

  it('during a model switch: the model that arrives after the stop is released, the switch fails', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-stopswitch-'));
    dirs.push(dir);
    const config = parseConfig({
      dataDir: dir,
      models: { dir: MODELS, default: 'squeezenet1.1' },
      inference: { threads: 1 },
      log: { level: 'silent' },
    });
    const host = new ModelHost(config, silentLogger());
    const first = await host.loadInitial();
    expect(first?.name).toBe('squeezenet1.1');
    const disposed = vi.spyOn(WorkerModel.prototype, 'dispose');
    try {
      // set-model under way when the agent stops (its `model` stop step is dispose()).
      const switching = host.switchTo({ model: 'yolox-nano' });
      await host.dispose();
      await expect(switching).rejects.toThrow('the agent is stopping');
      const released = disposed.mock.contexts as WorkerModel[];
      expect(released.map((m) => m.name).sort()).toEqual(['squeezenet1.1', 'yolox-nano']);
      expect(released.every((m) => m.sessionReleased)).toBe(true);
      // The one in use stays the one the stop released.
      expect(host.model).toBe(first);
    } finally {
      disposed.mockRestore();
    }
  }, 60_000);
});
