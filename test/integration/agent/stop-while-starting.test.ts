import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelHost } from '../../../src/agent/model-host.js';
import { Agent } from '../../../src/agent.js';
import { parseConfig } from '../../../src/config/index.js';
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

describe('stopped while starting', () => {
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
});
