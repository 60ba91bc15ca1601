import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import type { FrameResult } from '../../../src/pipeline/types.js';
import type { Decision } from '../../../src/tuner/types.js';
import { REPO } from '../../helpers/paths.js';
import { waitUntil } from '../../helpers/wait.js';
import { Observer } from '../mqtt/support.js';
import { addTinyVariant, fixtureCopy, squeezenetModels } from './helpers.js';

/**
 * CPU hogs: real processes competing for this machine's cores, three per core so that the
 * pipeline's one inference thread gets about a quarter of a core whatever the core count (a shell
 * busy loop: ~1 MB each, unlike a node process). Each loops while the test's process lives
 * (`kill -0` is a shell builtin): a hog whose runner was killed mid-test ends by itself instead of
 * burning a core for good.
 */
function busy(): ChildProcess[] {
  const n = 3 * Math.max(2, os.availableParallelism());
  return Array.from({ length: n }, () =>
    spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do :; done`], { stdio: 'ignore' }),
  );
}

interface LoggedEvent {
  id: number;
  ts: number;
  type: string;
  data: Record<string, unknown>;
}

// The waits below only bound a hang: on a loaded CI machine the re-measure under the hogs takes
// minutes; the test waits for the tuner's own events instead of a switch within a fixed time.
const DRIFT_DETECTED_MS = 240_000;
/**
 * The baseline is the p95 tuned under whatever else the machine was doing then: a tune during a
 * busy moment of a CI run (the arm64 emulation, other test files) and quieter minutes after it left
 * six hogs at ~1.1 × that baseline for four minutes (reproduced: four busy loops during the tune,
 * gone with the hogs' start). So the load is raised until it shows: another batch of hogs every
 * 30 s without a drift (latency grows with the number of runnable processes), up to five batches.
 */
const MORE_HOGS_EVERY_MS = 30_000;
const MAX_HOG_BATCHES = 5;
const REMEASURE_DONE_MS = 600_000;

describe('the tuner in the running agent', () => {
  it('tunes in bursts beside the pipeline; a busy neighbour raising latency triggers a re-measure whose decision is applied with its reason, and a hot swap loses no frame; once it leaves, the recovered latency re-measures again', async () => {
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
        // Only the two variants decide: a derivation under the hogs would be slow and add a third.
        derive: 'never',
        tuning: {
          rounds: 2,
          runsPerRound: 8,
          warmupRuns: 2,
          maxThreads: 1,
          background: false,
          burstMs: 1500,
          // Long enough for the resumed pipeline to deliver a result between two bursts.
          pauseBetweenBurstsMs: 1000,
          driftFactor: 1.3,
          // The live p95 is taken over a fifth of the window (2 s): enough frames even when slow.
          driftWindowS: 10,
        },
      },
    });
    const agent = new Agent({ config, log: silentLogger() });
    const hogs: ChildProcess[] = [];
    await agent.start();
    try {
      const pipeline = agent.pipeline!;
      const results: FrameResult[] = [];
      /** The tuner's burst count when each result arrived. */
      const burstAt: number[] = [];
      pipeline.onResult((r) => {
        results.push(r);
        burstAt.push(agent.tuner!.bursts().bursts);
      });
      await waitUntil(
        () => results.length >= 3,
        60_000,
        () => 'first results',
      );
      const controller = agent.tuner!.controller;
      const store = (agent as unknown as { store: { events: { list(n: number): LoggedEvent[] } } }).store;
      const lastEventId = () => store.events.list(1)[0]?.id ?? 0;
      const eventsAfter = (id: number) =>
        store.events
          .list(500)
          .filter((e) => e.id > id)
          .reverse();

      // A tune in the agent: bursts pause the pipeline, results go on between them.
      const burstsBefore = agent.tuner!.bursts().bursts;
      const first = (await controller.tune({ trigger: 'test' }))!;
      expect(first.chosen).toEqual({ variant: 'fp32', executionProvider: 'cpu', threads: 1 });
      const burstsAfter = agent.tuner!.bursts().bursts;
      expect(burstsAfter - burstsBefore).toBeGreaterThanOrEqual(4); // 2 opens + 2 × 2 rounds
      expect(burstAt.some((b) => b > burstsBefore && b < burstsAfter)).toBe(true);
      const fp32 = first.candidates.find((c) => c.variant === 'fp32')!;

      // A budget the quiet fp32 meets with room, a loaded one does not.
      const budgetMs = fp32.latencyMs!.p95 * 1.6;
      await controller.setPolicy({ latencyP95Ms: budgetMs });
      expect(controller.current()?.chosen?.variant).toBe('fp32');
      // Each applied decision resets the drift detector (a drift needs a whole window from then; before
      // the first there is no baseline) and nothing else is queued: the first drift re-measure after
      // this mark is the hogs'.
      await controller.settled();
      const mark = lastEventId();
      const before = results.length;

      hogs.push(...busy());
      let batches = 1;
      let lastBatchAt = Date.now();
      const describeEvents = () =>
        eventsAfter(mark)
          .map((e) => `${e.type}${e.data.trigger ? ` (${String(e.data.trigger)})` : ''}`)
          .join(', ') || 'none';
      const drift = (
        controller as unknown as { drift: { baseline?: number; livePercentile95(): number | undefined } }
      ).drift;
      // Drift detection: the sustained live p95 above 1.3 × the tuned one starts a forced re-measure.
      const started = await waitUntil(
        () => {
          const found = eventsAfter(mark).find(
            (e) => e.type === 'tuning-started' && String(e.data.trigger).startsWith('latency drift'),
          );
          if (!found && batches < MAX_HOG_BATCHES && Date.now() - lastBatchAt >= MORE_HOGS_EVERY_MS) {
            hogs.push(...busy());
            batches++;
            lastBatchAt = Date.now();
          }
          return found;
        },
        DRIFT_DETECTED_MS,
        () =>
          `a re-measure started by latency drift under ${hogs.length} CPU hogs (live p95 ${drift
            .livePercentile95()
            ?.toFixed(1)} ms, tuned baseline ${drift.baseline?.toFixed(1)} ms, ${
            results.length - before
          } results since the hogs started); events: ${describeEvents()}`,
      );
      expect(started.data.force).toBe(true);
      const trigger = String(started.data.trigger);
      // The re-measure runs under the hogs until it is done (or failed), however long that takes here.
      const done = await waitUntil(
        () =>
          eventsAfter(started.id).find(
            (e) => (e.type === 'tuning-done' || e.type === 'tuning-failed') && e.data.trigger === trigger,
          ),
        REMEASURE_DONE_MS,
        () => `the end of the re-measure "${trigger}"; events: ${describeEvents()}`,
      );
      // The hogs stay while the switch is checked: without them the recovery watch below would
      // re-measure (and may switch back) under these checks.
      expect(done.type, `re-measure failed: ${String(done.data.error)}`).toBe('tuning-done');
      await controller.settled(); // the decision is applied (and a switch made) after tuning-done

      // The decision in force is the re-measure's, made on fresh measurements of both variants.
      const decision = controller.current() as Decision;
      expect(decision.trigger).toBe(trigger);
      expect(decision.reason).toBe(done.data.reason);
      expect(decision.chosen).toEqual(done.data.chosen);
      for (const variant of ['fp32', 'tiny']) {
        const m = decision.candidates.find((c) => c.variant === variant)!;
        expect(m.status, `${variant}: ${m.reason}`).toBe('ok');
        expect(m.cached, `${variant} re-measured, not from the cache`).not.toBe(true);
        expect(m.measuredAt!).toBeGreaterThanOrEqual(started.ts);
      }
      const chosen = decision.candidates.find((c) => c.verdict === 'chosen')!;
      expect(chosen.reason).toBe(decision.reason);
      const switches = eventsAfter(mark).filter((e) => e.type === 'variant-changed');
      if (decision.chosen?.variant === 'tiny') {
        // The loaded fp32 misses the budget: the tuner switched, saying why.
        expect(switches, `one variant-changed, by "${trigger}"; events: ${describeEvents()}`).toHaveLength(1);
        const changed = switches[0]!;
        expect(changed.data.trigger).toBe(trigger);
        expect(changed.data.from).toMatchObject({ variant: 'fp32' });
        expect(changed.data.to).toEqual(decision.chosen);
        expect(changed.data.reason).toBe(decision.reason);
        expect(decision.reason).toMatch(/tiny/);
        const loadedFp32 = decision.candidates.find((c) => c.variant === 'fp32')!;
        expect(loadedFp32.verdict === 'violates' || !decision.met).toBe(true);

        await waitUntil(
          () => results.at(-1)?.variant === 'tiny' && results.length > before + 3,
          120_000,
          () => 'results on tiny',
        );
        // The hot swap lost nothing: no failed frame, results in order, old variant then new.
        expect(pipeline.stats().counters.failed).toBe(0);
        const seqs = results.map((r) => r.seq);
        expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
        const firstTiny = results.findIndex((r) => r.variant === 'tiny');
        expect(firstTiny).toBeGreaterThanOrEqual(before);
        expect(results.slice(firstTiny).every((r) => r.variant === 'tiny')).toBe(true);
      } else {
        // Kept: fp32 still fits under this load (or is closest within the margin); the reason says so.
        expect(decision.chosen).toEqual({ variant: 'fp32', executionProvider: 'cpu', threads: 1 });
        expect(decision.reason).toMatch(decision.met ? /fp32.*fit/ : /^nothing meets.*fp32/);
        expect(switches, `no switch when kept; events: ${describeEvents()}`).toEqual([]);
        expect(pipeline.stats().counters.failed).toBe(0);
        expect(results.at(-1)?.variant).toBe('fp32');
      }
      const expected = decision.chosen!.variant;

      // The retained info document carries the decision summary; /api/decision returns the real decision.
      await agent.fleet!.publishInfo();
      const infoTopic = `${config.mqtt.prefix}/${agent.deviceId}/info`;
      // The embedded broker (aedes) speaks MQTT 3.1.1.
      const observer = await Observer.connect(agent.fleet!.brokerUrl, { protocolVersion: 4 }, [infoTopic]);
      try {
        const info = (await waitUntil(
          () => observer.json(infoTopic).at(-1),
          30_000,
          () => `retained ${infoTopic}`,
        )) as { decision: { chosen: { variant: string }; reason: string } };
        expect(info.decision.chosen.variant).toBe(expected);
        expect(info.decision.reason).toBe(decision.reason);
      } finally {
        await observer.close();
      }
      const api = (await (await fetch(`${agent.http!.url}/api/decision`)).json()) as {
        source: string;
        chosen: { variant: string };
      };
      expect(api.source).toBe('tuner');
      expect(api.chosen.variant).toBe(expected);
      const plot = await fetch(`${agent.http!.url}/api/decision/plot.svg`);
      expect(plot.headers.get('content-type')).toMatch(/image\/svg\+xml/);
      expect(await plot.text()).toContain('id="chosen-latency"');
      // The dashboard's tuner panel (chart + candidate table) is served with the page.
      const page = await (await fetch(`${agent.http!.url}/`)).text();
      expect(page).toContain('id="tuner-panel"');
      expect((await fetch(`${agent.http!.url}/tuner-panel.js`)).status).toBe(200);

      // The neighbour leaves. The decision in force was measured under the hogs and (when a candidate
      // missed the budget there) a sustained live p95 below its baseline ÷ 1.3 re-measures on the
      // quiet machine; fp32 fits the budget again unless this machine is busy with more than the hogs.
      const candidateOverBudget = decision.candidates.some((c) => c.latencyMs!.p95 > budgetMs);
      expect(candidateOverBudget || decision.met).toBe(true);
      if (!candidateOverBudget) return; // every candidate fitted even under the hogs: nothing to recover
      const quietMark = lastEventId();
      for (const h of hogs.splice(0)) h.kill('SIGKILL');
      const recovered = await waitUntil(
        () =>
          eventsAfter(quietMark).find(
            (e) => e.type === 'tuning-started' && String(e.data.trigger).startsWith('latency recovered'),
          ),
        DRIFT_DETECTED_MS,
        () =>
          `a re-measure started by the latency recovering once the hogs left (live p95 ${drift
            .livePercentile95()
            ?.toFixed(
              1,
            )} ms, tuned under the hogs ${drift.baseline?.toFixed(1)} ms); events: ${describeEvents()}`,
      );
      const recoveryTrigger = String(recovered.data.trigger);
      const recoveryDone = await waitUntil(
        () =>
          eventsAfter(recovered.id).find(
            (e) =>
              (e.type === 'tuning-done' || e.type === 'tuning-failed') && e.data.trigger === recoveryTrigger,
          ),
        REMEASURE_DONE_MS,
        () => `the end of the re-measure "${recoveryTrigger}"; events: ${describeEvents()}`,
      );
      expect(recoveryDone.type, `re-measure failed: ${String(recoveryDone.data.error)}`).toBe('tuning-done');
      await controller.settled();
      const quiet = controller.current() as Decision;
      expect(quiet.trigger).toBe(recoveryTrigger);
      for (const variant of ['fp32', 'tiny']) {
        const m = quiet.candidates.find((c) => c.variant === variant)!;
        expect(m.cached, `${variant} re-measured, not from the cache`).not.toBe(true);
        expect(m.measuredAt!).toBeGreaterThanOrEqual(recovered.ts);
      }
      const quietFp32 = quiet.candidates.find((c) => c.variant === 'fp32')!;
      const back = eventsAfter(quietMark).filter((e) => e.type === 'variant-changed');
      if (quiet.chosen?.variant === 'fp32' && expected === 'tiny') {
        // Back on the accurate variant, saying why.
        expect(quietFp32.violations).toEqual([]);
        expect(back).toHaveLength(1);
        expect(back[0]!.data.trigger).toBe(recoveryTrigger);
        expect(back[0]!.data.to).toEqual(quiet.chosen);
        const n = results.length;
        await waitUntil(
          () => results.at(-1)?.variant === 'fp32' && results.length > n,
          120_000,
          () => 'results on fp32 again',
        );
        expect(pipeline.stats().counters.failed).toBe(0);
      } else {
        // Kept (fp32 still misses the budget on this machine now, busy beyond the hogs; or fp32 was
        // kept under the hogs too): a switch by the recovery only if its choice differs.
        const byRecovery = back.filter((e) => e.data.trigger === recoveryTrigger);
        expect(byRecovery).toHaveLength(quiet.chosen?.variant === expected ? 0 : 1);
      }
    } finally {
      for (const h of hogs) h.kill('SIGKILL');
      await agent.stop();
    }
  }, 1_200_000);
});
