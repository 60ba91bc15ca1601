import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentProcess } from '../../helpers/agent-process.js';
import { ISOLATE_PROBE, isolatesAlive } from '../../helpers/isolates.js';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { REPO } from '../../helpers/paths.js';
import { requireTool } from '../../helpers/system-tools.js';
import { makeSampleVideo } from '../../helpers/video.js';
import { Observer, request } from '../mqtt/support.js';

// Issue 18 (memory): each V8 isolate costs ~7-8 MB RSS. The serving agent runs two — the main
// thread and the pipeline worker, which also hosts the model's onnxruntime session — not a third
// session worker. Counted in the real agent by a preload every isolate runs (isolate-probe.cjs).
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Status = { model: { name: string }; pipeline: { counters: { processed: number } } };

describe.runIf(requireTool('ffmpeg', 'ffmpeg') && requireMosquitto() && process.platform === 'linux')(
  'the serving agent’s isolates',
  () => {
    it('serves a camera with two JS isolates: the pipeline worker hosts the session, also after a switch', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'ea-isolates-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const probes = path.join(dir, 'probes');
      mkdirSync(probes);
      const broker = await Mosquitto.start();
      cleanups.push(() => broker.stop());
      const agent = AgentProcess.start(
        {
          deviceId: 'isolates',
          camera: { source: `file:${makeSampleVideo(dir, { fps: 10 })}`, realtime: false, loop: true },
          mqtt: { url: broker.url },
        },
        { NODE_OPTIONS: `--require ${ISOLATE_PROBE}`, EA_ISOLATE_PROBE_DIR: probes },
      );
      cleanups.push(async () => {
        if (!agent.exit) await agent.terminate();
        rmSync(agent.dir, { recursive: true, force: true });
      });
      const url = await agent.url();
      // Not counted: the module loader's thread, there because the test runs the TypeScript
      // sources through tsx (node dist/cli.js has none).
      const expectTwoIsolates = async () => {
        const alive = (await isolatesAlive(probes, agent.child.pid!)).filter((i) => i.kind !== 'loader');
        expect(
          alive.map((i) => i.kind),
          JSON.stringify(alive),
        ).toEqual(['main', 'worker']);
      };
      const status = async (): Promise<Status | undefined> => {
        const res = await fetch(`${url}/api/status`).catch(() => undefined);
        return res?.ok ? ((await res.json()) as Status) : undefined;
      };
      /** Waits until `n` more frames of `model` were inferred. */
      const inferred = async (model: string, n: number) => {
        let from: number | undefined;
        for (;;) {
          if (agent.exit) throw new Error(`the agent exited\n${agent.log()}`);
          const s = await status();
          if (s?.model.name === model) {
            from ??= s.pipeline.counters.processed;
            if (s.pipeline.counters.processed >= from + n) return;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      };

      await inferred('yolox-nano', 10);
      await expectTwoIsolates();
      // A still through the HTTP API runs on the same session, in the pipeline worker.
      const still = await fetch(`${url}/api/infer`, {
        method: 'POST',
        headers: { 'Content-Type': 'image/jpeg' },
        body: new Uint8Array(readFileSync(path.join(REPO, 'samples', '000000086956.jpg'))),
      });
      expect(still.status).toBe(200);
      expect(((await still.json()) as { detections: unknown[] }).detections.length).toBeGreaterThan(0);

      // A switch loads the new session next to the old one in the host, then releases the old.
      const observer = await Observer.connect(broker.url);
      cleanups.push(() => observer.close());
      const set = await request(
        observer,
        'edge-agent',
        'isolates',
        'set-model',
        { model: 'squeezenet1.1' },
        60_000,
      );
      expect(set).toMatchObject({ status: 'ok', data: { model: 'squeezenet1.1' } });
      await inferred('squeezenet1.1', 10);
      await expectTwoIsolates();
      expect(await agent.terminate()).toMatchObject({ code: 0, signal: null });
    }, 180_000);
  },
);
