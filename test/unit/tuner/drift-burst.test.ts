import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import type { Pacing } from '../../../src/pipeline/pacing.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { percentileOf } from '../../../src/telemetry/percentiles.js';
import { pipelineBurstGate } from '../../../src/tuner/burst.js';
import { TunerController } from '../../../src/tuner/controller.js';
import { DriftDetector } from '../../../src/tuner/drift.js';
import type { Tuner } from '../../../src/tuner/tuner.js';
import type { Decision } from '../../../src/tuner/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { fakeModel, memorySource } from '../pipeline/fakes.js';

describe('DriftDetector', () => {
  it('triggers once when the live p95 stays above tuned × factor for a whole window', () => {
    const d = new DriftDetector({ factor: 1.5, windowMs: 10_000 }, 10);
    let t = 0;
    const feed = (ms: number, seconds: number) => {
      const fired: number[] = [];
      for (let i = 0; i < seconds * 10; i++) {
        t += 100;
        const drift = d.add(t, ms);
        if (drift) fired.push(t);
        if (drift) expect(drift).toBe('up');
      }
      return fired;
    };
    expect(feed(11, 30)).toEqual([]); // normal
    expect(feed(14, 30)).toEqual([]); // above tuned but within the factor
    const fired = feed(30, 15);
    expect(fired).toHaveLength(1); // sustained: one trigger, then it resets
    expect(fired[0]! - 60_000).toBeGreaterThanOrEqual(10_000);
  });
  it('a short spike does not trigger', () => {
    const d = new DriftDetector({ factor: 1.5, windowMs: 10_000 }, 10);
    let fired = false;
    for (let i = 0; i < 300; i++) fired ||= d.add(i * 100, i >= 100 && i < 130 ? 50 : 10) !== undefined; // one 3 s spike
    expect(fired).toBe(false);
  });
  it('the live p95 is that of the last fifth of the window, across the ring growing and wrapping', () => {
    // 200 samples a second over a 10 s window: the last 2 s hold 400 (more than the ring starts with).
    const d = new DriftDetector({ factor: 100, windowMs: 10_000 }, 10);
    const all: Array<{ t: number; ms: number }> = [];
    for (let i = 0; i < 3000; i++) {
      const sample = { t: i * 5, ms: (i * 7919) % 97 }; // scattered values
      all.push(sample);
      d.add(sample.t, sample.ms);
      if (i % 499 === 0 || i === 2999) {
        const inWindow = all.filter((s) => s.t >= sample.t - 2000).map((s) => s.ms);
        expect(d.livePercentile95()).toBe(percentileOf(inWindow, 95));
      }
    }
  });
  it('after a trigger, the live p95 is the one that triggered (for the reason given)', () => {
    const d = new DriftDetector({ factor: 1.5, windowMs: 1000 }, 10);
    let t = 0;
    let fired = false;
    while (!fired) {
      t += 10;
      fired = d.add(t, 40) === 'up';
    }
    expect(d.livePercentile95()).toBe(40);
    d.add(t + 10, 12);
    expect(d.livePercentile95()).toBe(12); // a new window began
  });
  it('does nothing without a baseline', () => {
    const d = new DriftDetector({ factor: 1.5, windowMs: 1000 }, undefined);
    for (let i = 0; i < 100; i++) expect(d.add(i * 100, 1000)).toBeUndefined();
  });
  it('says "down" once when the live p95 stays below tuned ÷ factor for a whole window (a quieter machine)', () => {
    const d = new DriftDetector({ factor: 1.5, windowMs: 10_000 }, 30);
    let t = 0;
    const feed = (ms: number, seconds: number) => {
      const fired: Array<{ t: number; drift: string }> = [];
      for (let i = 0; i < seconds * 10; i++) {
        t += 100;
        const drift = d.add(t, ms);
        if (drift) fired.push({ t, drift });
      }
      return fired;
    };
    expect(feed(25, 30)).toEqual([]); // below tuned but within the factor (30 ÷ 1.5 = 20)
    // A dip shorter than the window does not count.
    expect(feed(15, 5)).toEqual([]);
    expect(feed(25, 5)).toEqual([]);
    const fired = feed(15, 15);
    expect(fired.map((f) => f.drift)).toEqual(['down']); // sustained: one trigger, then it resets
    expect(fired[0]!.t - 40_000).toBeGreaterThanOrEqual(10_000);
    expect(d.livePercentile95()).toBe(15);
  });
});

describe('TunerController: the drift baseline', () => {
  it("compares the live inference time with the session's share of the tuned per-frame p95 (less its preparation)", async () => {
    const clock = new FakeClock(0);
    const key = { variant: 'slim-320', executionProvider: 'cpu', threads: 1 };
    // Tuned per frame: p95 10 ms, of which preparing the frame 4 ms (mean): the session's 6 ms.
    const decision = {
      model: 'ultraface',
      chosen: key,
      candidates: [{ ...key, latencyMs: { p95: 10 }, prepareMs: 4 }],
    } as unknown as Decision;
    const triggers: string[] = [];
    const tuner = {
      tune: async (o: { trigger: string }) => {
        triggers.push(o.trigger);
        throw new Error('not measuring in this test');
      },
    } as unknown as Tuner;
    const controller = new TunerController({
      tuner: async () => tuner,
      policy: () => parseConfig({}).policy, // driftFactor 1.5, driftWindowS 60
      model: () => 'ultraface',
      active: () => key,
      switchTo: async () => false,
      cachedDecision: () => undefined,
      clock,
    });
    controller.reinstate(decision);
    const feed = async (ms: number, seconds: number) => {
      for (let t = 0; t < seconds * 10; t++) {
        clock.advance(100);
        controller.onInference(ms);
      }
      await new Promise((r) => setImmediate(r));
    };
    // 8 ms: below 1.5 × 6 = 9 (the whole per-frame figure, 10, would have allowed up to 15).
    await feed(8, 70);
    expect(triggers).toEqual([]);
    await feed(11, 70);
    expect(triggers).toHaveLength(1);
    expect(triggers[0]).toMatch(/^latency drift: live p95 11\.0 ms > 1\.5 × tuned 6\.0 ms$/);
    // The tune failed (above): no unhandled rejection, which would have ended the agent's process.
  });

  it('a quieter machine re-measures when a candidate lost on the latency budget, once per decision made otherwise', async () => {
    const clock = new FakeClock(0);
    const fast = { variant: 'slim-320', executionProvider: 'cpu', threads: 1 };
    const accurate = { variant: 'RFB-640', executionProvider: 'cpu', threads: 1 };
    /** A decision tuned on a busy machine: the accurate variant missed the 40 ms budget. */
    const busy = (trigger: string, budgetMs: number | null = 40) =>
      ({
        model: 'ultraface',
        trigger,
        chosen: fast,
        constraints: {
          objective: 'max-accuracy',
          latencyP95Ms: budgetMs ?? undefined,
          fidelityFloor: 0.9,
          switchMarginPercent: 5,
        },
        candidates: [
          { ...fast, latencyMs: { p95: 30 } },
          { ...accurate, latencyMs: { p95: 55 } },
        ],
      }) as unknown as Decision;
    const triggers: string[] = [];
    const tuner = {
      tune: async (o: { trigger: string }) => {
        triggers.push(o.trigger);
        return busy(o.trigger); // the re-measure finds the machine no quieter
      },
    } as unknown as Tuner;
    let recovery = true;
    const base = parseConfig({}).policy; // driftFactor 1.5, driftWindowS 60
    const controller = new TunerController({
      tuner: async () => tuner,
      policy: () => ({ ...base, tuning: { ...base.tuning, driftRecovery: recovery } }),
      model: () => 'ultraface',
      active: () => fast,
      switchTo: async () => false,
      cachedDecision: () => undefined,
      clock,
    });
    const feed = async (ms: number, seconds: number) => {
      for (let t = 0; t < seconds * 10; t++) {
        clock.advance(100);
        controller.onInference(ms);
      }
      await controller.settled();
    };
    controller.reinstate(busy('agent-start'));
    await feed(25, 90); // 30 ÷ 1.5 = 20: within the band
    expect(triggers).toEqual([]);
    await feed(12, 90); // the busy neighbour has left
    expect(triggers).toEqual(['latency recovered: live p95 12.0 ms < tuned 30.0 ms ÷ 1.5']);
    // Its decision (the machine no quieter, as measured) is in force: no re-measure every window.
    expect(controller.current()?.trigger).toBe(triggers[0]);
    await feed(12, 300);
    expect(triggers).toHaveLength(1);
    // A decision made otherwise arms it again; upward drift is watched all along.
    controller.reinstate(busy('fleet'));
    await feed(12, 90);
    expect(triggers).toHaveLength(2);
    await feed(60, 90);
    expect(triggers[2]).toMatch(/^latency drift: live p95 60\.0 ms > 1\.5 × tuned 30\.0 ms$/);

    // Nothing over the budget (every candidate fits, or no budget): a quieter machine changes nothing.
    triggers.length = 0;
    controller.reinstate(busy('cli', 60));
    await feed(12, 300);
    controller.reinstate(busy('cli', null));
    await feed(12, 300);
    // Turned off by policy.tuning.driftRecovery: false.
    recovery = false;
    controller.reinstate(busy('cli'));
    await feed(12, 300);
    expect(triggers, JSON.stringify(triggers)).toEqual([]);
  });

  it('a re-decision that fails on a sampler event (memory pressure, power mode) is reported, not thrown', async () => {
    const events: Array<{ type: string; data: Record<string, unknown> }> = [];
    const tuner = {
      redecide: () => {
        throw new Error('the store is gone');
      },
    } as unknown as Tuner;
    const controller = new TunerController({
      tuner: async () => tuner,
      policy: () => parseConfig({}).policy,
      model: () => 'ultraface',
      active: () => undefined,
      switchTo: async () => false,
      cachedDecision: () => undefined,
      events: { emit: (type, data) => events.push({ type, data }) },
      clock: new FakeClock(0),
    });
    controller.onMemoryPressure(true, 64 * 1048576);
    controller.onReadings({ powerSource: 'mains', throttled: false });
    controller.onReadings({ powerSource: 'battery', batteryPercent: 80, throttled: false });
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual([
      { type: 'tuning-failed', data: { trigger: 'memory pressure', error: 'the store is gone' } },
      { type: 'tuning-failed', data: { trigger: 'power-mode mains → battery', error: 'the store is gone' } },
    ]);
  });
});

describe('pipelineBurstGate', () => {
  function fakePipeline() {
    const listeners = new Set<() => void>();
    const p = {
      pacing: { mode: 'continuous' } as Pacing,
      history: [] as string[],
      setPacing(next: Pacing) {
        p.pacing = next;
        p.history.push(next.mode === 'duty-cycle' ? `paused` : 'running');
      },
      onResult(l: () => void) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      result() {
        for (const l of [...listeners]) l();
      },
    };
    return p;
  }
  it('pauses the pipeline around each burst, one burst at a time, and restores its pacing', async () => {
    const clock = new FakeClock();
    const p = fakePipeline();
    const { gate, stats } = pipelineBurstGate(p, { clock, gapMs: 0, settleMs: 5 });
    const seen: string[] = [];
    const a = gate(async () => {
      seen.push(`a:${p.pacing.mode}`);
      return 1;
    });
    p.result(); // the frame in flight finishes
    const b = gate(async () => {
      seen.push(`b:${p.pacing.mode}`);
      return 2;
    });
    expect(await a).toBe(1);
    expect(await b).toBe(2);
    expect(seen).toEqual(['a:duty-cycle', 'b:duty-cycle']);
    expect(p.pacing).toEqual({ mode: 'continuous' });
    expect(p.history).toEqual(['paused', 'running', 'paused', 'running']);
    expect(stats().bursts).toBe(2);
  });
  it('keeps a pacing someone else set during the burst, and restores after a failed burst', async () => {
    const clock = new FakeClock();
    const p = fakePipeline();
    const { gate } = pipelineBurstGate(p, { clock, gapMs: 0, settleMs: 1 });
    await gate(async () => {
      p.setPacing({ mode: 'continuous', fps: 5 }); // set-fps during the burst
    });
    expect(p.pacing).toEqual({ mode: 'continuous', fps: 5 });
    await expect(
      gate(async () => {
        throw new Error('candidate crashed');
      }),
    ).rejects.toThrow('candidate crashed');
    expect(p.pacing).toEqual({ mode: 'continuous', fps: 5 });
  });

  it('a burst given up (the agent stopping) neither waits out the gap nor pauses the pipeline', async () => {
    const clock = new FakeClock();
    const p = fakePipeline();
    // A gap of an hour after the first burst: a stop must not wait for it (it used to, up to the
    // policy's pause between bursts, holding the agent's stop past its budget).
    const { gate } = pipelineBurstGate(p, { clock, gapMs: 3_600_000, settleMs: 1 });
    await gate(async () => undefined);
    const stopping = new AbortController();
    let ran = false;
    const waiting = gate(async () => {
      ran = true;
    }, stopping.signal);
    await new Promise((r) => setTimeout(r, 10));
    stopping.abort();
    await expect(waiting).rejects.toThrow('measurement aborted');
    await expect(gate(async () => undefined, stopping.signal)).rejects.toThrow('measurement aborted');
    expect(ran).toBe(false);
    expect(p.history).toEqual(['paused', 'running']);
    expect(p.pacing).toEqual({ mode: 'continuous' });
  });

  it('pauses and resumes quietly: the real pipeline logs each burst at debug, an ordinary pacing change at info', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const clock = new FakeClock();
    const pipeline = new Pipeline({
      source: memorySource({ fps: 10, clock }),
      model: fakeModel('m', 1, { clock }),
      pacing: { mode: 'continuous' },
      maxFrameAgeMs: 1000,
      log: pino({ level: 'debug' }, sink),
      clock,
      stopwatch: () => clock.now(),
    });
    const { gate } = pipelineBurstGate(pipeline, { clock, gapMs: 0, settleMs: 1 });
    for (let i = 0; i < 3; i++) await gate(async () => undefined);
    const pacing = lines.filter((l) => l.msg === 'pacing changed');
    expect(pacing).toHaveLength(6); // pause + resume per burst
    expect(pacing.every((l) => l.level === 20)).toBe(true); // debug
    pipeline.setPacing({ mode: 'continuous', fps: 5 }); // set-fps: still at info
    expect(lines.at(-1)).toMatchObject({ msg: 'pacing changed', level: 30 });
  });
});
