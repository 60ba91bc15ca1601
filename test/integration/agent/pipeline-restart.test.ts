import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentProcess } from '../../helpers/agent-process.js';
import { ISOLATE_PROBE, isolatesAlive } from '../../helpers/isolates.js';
import { MODELS, REPO } from '../../helpers/paths.js';
import { waitUntil } from '../../helpers/wait.js';

// A device keeps serving when its pipeline worker dies: the agent starts a new worker, loads the
// model into it and infers on, with the fault and events in between — in a real `edge-agent run`
// whose first pipeline worker a preload crashes (crash-pipeline-worker.cjs). No system tool needed.
const CRASH = path.join(REPO, 'test', 'helpers', 'crash-pipeline-worker.cjs');

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Status = {
  model: { name: string };
  pipeline: {
    state: string;
    counters: { processed: number };
    restarts?: { count: number; failures: number; nextAtMs?: number };
  };
};

describe.runIf(process.platform === 'linux')('a pipeline worker that crashes in the running agent', () => {
  it('is replaced by a new one that hosts the model again: inference goes on, two isolates, events recorded', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-restart-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const probes = path.join(dir, 'probes');
    mkdirSync(probes);
    const agent = AgentProcess.start(
      {
        deviceId: 'restart',
        models: { dir: MODELS, default: 'squeezenet1.1' },
        camera: { source: 'synthetic', fps: 15 },
        mqtt: { embedded: { port: 0 } },
      },
      {
        NODE_OPTIONS: `--require ${CRASH} --require ${ISOLATE_PROBE}`,
        EA_CRASH_MARKER: path.join(dir, 'crashed'),
        EA_CRASH_AFTER_MS: '2500',
        EA_ISOLATE_PROBE_DIR: probes,
      },
    );
    cleanups.push(async () => {
      if (!agent.exit) await agent.terminate();
      rmSync(agent.dir, { recursive: true, force: true });
    });
    const url = await agent.url();
    const status = async (): Promise<Status> => (await (await fetch(`${url}/api/status`)).json()) as Status;

    const failed = await agent.waitFor((l) => l.msg === 'pipeline failed: restarting it in a new worker');
    expect(failed).toMatchObject({ attempt: 1 });
    expect(String(failed.err)).toBe('pipeline worker crashed: injected crash in the pipeline worker');
    const restarted = await agent.waitFor((l) => l.msg === 'pipeline restarted in a new worker');
    expect(restarted).toMatchObject({ attempt: 1, model: 'squeezenet1.1' });

    // Inference goes on in the new worker; the counters go on from where they were.
    const after = (await status()).pipeline.counters.processed;
    await waitUntil(
      async () => ((await status()).pipeline.counters.processed >= after + 10 ? true : undefined),
      30_000,
      () => `no inference after the restart\n${agent.log()}`,
    );
    const s = await status();
    expect(s.pipeline.state).toBe('running');
    expect(s.pipeline.restarts).toMatchObject({ count: 1, failures: 1 });
    expect(s.model.name).toBe('squeezenet1.1');
    const health = (await (await fetch(`${url}/healthz`)).json()) as { status: string; faults: unknown[] };
    expect(health).toMatchObject({ status: 'ok', faults: [] });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^edge_agent_pipeline_restarts_total 1$/m);
    // The session is hosted by the new pipeline worker, not a worker of its own: still two isolates
    // (the loader thread is tsx's, see isolates.test.ts).
    const alive = (await isolatesAlive(probes, agent.child.pid!)).filter((i) => i.kind !== 'loader');
    expect(alive.map((i) => i.kind)).toEqual(['main', 'worker']);

    expect(await agent.terminate()).toMatchObject({ code: 0, signal: null });
    const db = new Database(path.join(agent.dataDir, 'edge-agent.db'), { readonly: true });
    const events = db
      .prepare("SELECT type, severity, data FROM events WHERE type LIKE 'pipeline-%' ORDER BY id")
      .all() as Array<{ type: string; severity: string; data: string }>;
    db.close();
    expect(events.map((e) => [e.type, e.severity])).toEqual([
      ['pipeline-failed', 'error'],
      ['pipeline-restarted', 'warning'],
    ]);
    expect(JSON.parse(events[0]!.data)).toMatchObject({
      error: 'pipeline worker crashed: injected crash in the pipeline worker',
      attempt: 1,
      restartInMs: expect.any(Number),
    });
    expect(JSON.parse(events[1]!.data)).toMatchObject({
      attempt: 1,
      model: 'squeezenet1.1',
      downMs: expect.any(Number),
    });
  }, 120_000);
});
