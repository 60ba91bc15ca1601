import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import type { FrameResult } from '../../../src/pipeline/types.js';
import { REPO } from '../../helpers/paths.js';
import { waitUntil } from '../../helpers/wait.js';
import { addTinyVariant, fixtureCopy, squeezenetModels } from './helpers.js';

/** CPU hogs: real processes competing for this machine's cores. */
function busy(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
}

describe('the tuner in the running agent', () => {
  it('tunes in bursts beside the pipeline; a busy neighbour raising latency triggers a re-measure and a hot swap that loses no frame', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-tuner-agent-'));
    const models = squeezenetModels({ fp16: false });
    addTinyVariant(models);
    const config = parseConfig({
      dataDir: path.join(dir, 'data'),
      models: { dir: models, default: 'squeezenet1.1', variant: 'fp32' },
      inference: { threads: 1 },
      camera: { source: `images:${REPO}/samples`, fps: 15 },
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      log: { level: 'silent' },
      hardware: { root: fixtureCopy('x86-container') },
      policy: {
        objective: 'max-accuracy',
        latencyP95Ms: 10_000,
        tuning: {
          rounds: 2,
          runsPerRound: 8,
          warmupRuns: 2,
          maxThreads: 1,
          background: false,
          burstMs: 1500,
          pauseBetweenBurstsMs: 200,
          driftFactor: 1.3,
          driftWindowS: 5,
        },
      },
    });
    const agent = new Agent({ config, log: silentLogger() });
    const hogs: ChildProcess[] = [];
    await agent.start();
    try {
      const pipeline = agent.pipeline!;
      const results: FrameResult[] = [];
      pipeline.onResult((r) => results.push(r));
      await waitUntil(
        () => results.length >= 3,
        60_000,
        () => 'first results',
      );
      const controller = agent.tuner!.controller;

      // A tune in the agent: bursts pause the pipeline, results go on between them.
      const first = (await controller.tune({ trigger: 'test' }))!;
      expect(first.chosen).toEqual({ variant: 'fp32', executionProvider: 'cpu', threads: 1 });
      const bursts = agent.tuner!.bursts();
      expect(bursts.bursts).toBeGreaterThanOrEqual(4); // 2 opens + 2 × 2 rounds
      expect(bursts.longestPauseMs).toBeLessThan(30_000);
      const fp32 = first.candidates.find((c) => c.variant === 'fp32')!;

      // A budget the quiet fp32 meets with room, a loaded one does not.
      await controller.setPolicy({ latencyP95Ms: fp32.latencyMs!.p95 * 1.6 });
      expect(controller.current()?.chosen?.variant).toBe('fp32');
      const before = results.length;

      hogs.push(...busy(6));
      const store = (
        agent as unknown as {
          store: { events: { list(n: number): Array<{ type: string; data: Record<string, unknown> }> } };
        }
      ).store;
      const events = () => store.events.list(50);
      const changed = await waitUntil(
        () =>
          events().find(
            (e) => e.type === 'variant-changed' && String(e.data.trigger).startsWith('latency drift'),
          ),
        180_000,
        () =>
          `variant-changed after drift; events: ${events()
            .map((e) => e.type)
            .join(', ')}`,
      );
      expect(changed.data.to).toMatchObject({ variant: 'tiny' });
      expect(changed.data.reason).toMatch(/tiny/);
      for (const h of hogs.splice(0)) h.kill('SIGKILL');

      await waitUntil(
        () => results.at(-1)?.variant === 'tiny' && results.length > before + 3,
        60_000,
        () => 'results on tiny',
      );
      // The hot swap lost nothing: no failed frame, results in order, old variant then new.
      expect(pipeline.stats().counters.failed).toBe(0);
      const seqs = results.map((r) => r.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      const firstTiny = results.findIndex((r) => r.variant === 'tiny');
      expect(results.slice(firstTiny).every((r) => r.variant === 'tiny')).toBe(true);
      expect(agent.tuner!.controller.current()?.trigger).toMatch(/^latency drift/);
      // info carries the decision summary; /api/decision returns the real decision.
      const info = (
        agent as unknown as { info(): { decision: { chosen: { variant: string }; reason: string } } }
      ).info();
      expect(info.decision.chosen.variant).toBe('tiny');
      const decision = (await (await fetch(`${agent.http!.url}/api/decision`)).json()) as {
        source: string;
        chosen: { variant: string };
      };
      expect(decision.source).toBe('tuner');
      expect(decision.chosen.variant).toBe('tiny');
      const plot = await fetch(`${agent.http!.url}/api/decision/plot.svg`);
      expect(plot.headers.get('content-type')).toMatch(/image\/svg\+xml/);
      expect(await plot.text()).toContain('id="chosen-latency"');
      // The dashboard's tuner panel (chart + candidate table) is served with the page.
      const page = await (await fetch(`${agent.http!.url}/`)).text();
      expect(page).toContain('id="tuner-panel"');
      expect((await fetch(`${agent.http!.url}/tuner-panel.js`)).status).toBe(200);
    } finally {
      for (const h of hogs) h.kill('SIGKILL');
      await agent.stop();
    }
  }, 400_000);
});
