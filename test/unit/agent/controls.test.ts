import { describe, expect, it } from 'vitest';
import { Controls } from '../../../src/agent/controls.js';
import { parseConfig } from '../../../src/config/index.js';
import type { Pacing } from '../../../src/pipeline/pacing.js';

function setup(initial: Pacing = { mode: 'continuous', fps: 5 }) {
  const pipeline = {
    pacing: initial,
    setPacing(p: Pacing) {
      this.pacing = p;
    },
    stats() {
      return { pacing: this.pacing, model: { name: 'yolox-nano', variant: 'fp32' } };
    },
  };
  const switched: string[] = [];
  const restarts: string[] = [];
  const controls = new Controls({
    pipeline: () => pipeline,
    config: parseConfig({}).pipeline,
    variants: () => ['fp32', 'fp32_int8w'],
    setVariant: async (v) => {
      switched.push(v);
    },
    restart: (r) => restarts.push(r),
  });
  return { pipeline, controls, switched, restarts };
}

describe('Controls', () => {
  it('inference off releases the camera and keeps the pacing; on restores it', () => {
    const { pipeline, controls } = setup();
    expect(controls.state()).toMatchObject({ inference: true, fps: 5, variant: 'fp32' });
    controls.setInference(false);
    expect(pipeline.pacing).toMatchObject({ mode: 'duty-cycle', releaseCamera: true });
    expect(controls.state()).toMatchObject({ inference: false, fps: 5, pacing: 'paused' });
    controls.setInference(false); // twice: still resumes to the original pacing
    controls.setInference(true);
    expect(pipeline.pacing).toEqual({ mode: 'continuous', fps: 5 });
    expect(controls.state()?.inference).toBe(true);
  });

  it('an fps change while off is kept for the resume instead of restarting inference', () => {
    const { pipeline, controls } = setup();
    controls.setInference(false);
    controls.setFps(2);
    expect(pipeline.pacing.mode).toBe('duty-cycle');
    expect(controls.state()).toMatchObject({ inference: false, fps: 2 });
    controls.setInference(true);
    expect(pipeline.pacing).toMatchObject({ mode: 'continuous', fps: 2 });
  });

  it('pacing changed by someone else (set-fps, set-config) while off counts as on', () => {
    const { pipeline, controls } = setup();
    controls.setInference(false);
    pipeline.setPacing({ mode: 'continuous', fps: 8 });
    expect(controls.state()).toMatchObject({ inference: true, fps: 8 });
  });

  it('variant: only the active model’s; patches apply in order; restart is passed on', async () => {
    const { controls, switched, restarts } = setup();
    await expect(controls.setVariant('nope')).rejects.toThrow(
      /not one of the active model's: fp32, fp32_int8w/,
    );
    const state = await controls.apply({ variant: 'fp32_int8w', fps: 3, inference: false });
    expect(switched).toEqual(['fp32_int8w']);
    expect(state).toMatchObject({ inference: false, fps: 3 });
    controls.restart('test');
    expect(restarts).toEqual(['test']);
  });

  it("the tuner's objective and re-tune: offered only with a tuner, passed on, the state follows", async () => {
    const { controls } = setup();
    expect(controls.state()?.objectives).toBeUndefined();
    await expect(controls.setObjective('min-latency')).rejects.toThrow(/tuner is not available/);
    expect(() => controls.retune('test')).toThrow(/tuner is not available/);

    let objective = 'max-accuracy';
    const retunes: string[] = [];
    const pipeline = {
      pacing: { mode: 'continuous', fps: 5 } as Pacing,
      setPacing(p: Pacing) {
        this.pacing = p;
      },
      stats() {
        return { pacing: this.pacing, model: { name: 'yolox-nano', variant: 'fp32' } };
      },
    };
    const tuned = new Controls({
      pipeline: () => pipeline,
      config: parseConfig({}).pipeline,
      variants: () => ['fp32'],
      setVariant: async () => undefined,
      restart: () => undefined,
      objective: () => objective,
      setObjective: async (o) => {
        objective = o;
      },
      retune: (reason) => retunes.push(reason),
    });
    expect(tuned.state()).toMatchObject({
      objective: 'max-accuracy',
      objectives: expect.arrayContaining(['min-energy']),
    });
    const state = await tuned.apply({ objective: 'min-latency' });
    expect(state?.objective).toBe('min-latency');
    tuned.retune('dashboard');
    expect(retunes).toEqual(['dashboard']);
  });

  it('without a running pipeline: no state, and changes are refused', () => {
    const controls = new Controls({
      pipeline: () => undefined,
      config: parseConfig({}).pipeline,
      variants: () => [],
      setVariant: async () => undefined,
      restart: () => undefined,
    });
    expect(controls.state()).toBeUndefined();
    expect(() => controls.setInference(false)).toThrow(/not running/);
  });
});
