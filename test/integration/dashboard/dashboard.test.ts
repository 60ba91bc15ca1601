import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controls } from '../../../src/agent/controls.js';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { batteryFeature } from '../../../src/features/battery.js';
import { controlsFeature } from '../../../src/features/controls.js';
import { readProfile } from '../../../src/hardware/index.js';
import { silentLogger } from '../../../src/log.js';
import { Store } from '../../../src/store/index.js';
import { batteryReadings } from '../../../src/tuner/battery/agent-battery.js';
import { powerModelFor } from '../../../src/tuner/battery/power-model.js';
import { decisionSvg } from '../../../src/tuner/plot.js';
import { selectVariant } from '../../../src/tuner/policy.js';
import { decisionJson } from '../../../src/tuner/report.js';
import type { Decision } from '../../../src/tuner/types.js';
import { simulateBatteryRun } from '../../helpers/battery-sim.js';
import { REPO } from '../../helpers/paths.js';
import { requireTool, toolPath } from '../../helpers/system-tools.js';
import { type Served, serveSamples, waitForResult } from '../http/fixture.js';

const hasChromium = requireTool('chromium', 'chromium');

/** Debian's Chromium, headless, with nothing that phones home; a fresh profile per run. */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const SIZES = [
  { name: 'desktop', width: 1400, height: 1000 },
  { name: 'phone', width: 390, height: 844 },
] as const;

describe.skipIf(!hasChromium)('dashboard in headless Chromium', () => {
  let served: Served;
  let context: BrowserContext;
  let store: Store;
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-dash-'));
  const profileDir = path.join(dir, 'chromium');
  const restarts: string[] = [];
  const retunes: string[] = [];
  let objective = 'max-accuracy';
  let battery: Awaited<ReturnType<typeof simulateBatteryRun>>;
  // A decision by the real policy over two measured candidates: the float variant serving and the
  // input-uint8 derivation the tuner made of it (same fidelity, less preparation per frame).
  const measured = (variant: string, p95: number, cpu: number, prepareMs: number, path: string) => ({
    variant,
    executionProvider: 'cpu',
    threads: 1,
    variantSha256: variant.padEnd(64, '0'),
    sizeBytes: 1_200_000,
    precision: 'fp32',
    status: 'ok' as const,
    latencyMs: { p50: p95 * 0.85, p95, p99: p95 * 1.05, mean: p95 * 0.9, roundP95: [p95 - 0.2, p95 + 0.2] },
    prepareMs,
    preparePath: path,
    cpuMsPerInference: cpu,
    roundCpuMs: [cpu - 0.1, cpu + 0.1],
    memoryBytes: 40 * 1048576,
    fidelity: 0.778,
    fidelitySource: 'measured' as const,
  });
  const decision: Decision = {
    ...selectVariant(
      [
        measured('slim-320', 7.9, 6.7, 0.38, 'planes'),
        measured('slim-320_u8in', 5.3, 4.4, 0.04, 'zero-copy'),
      ],
      { objective: 'max-accuracy', latencyP95Ms: 250, fidelityFloor: 0.7, switchMarginPercent: 5 },
      { variant: 'slim-320', executionProvider: 'cpu', threads: 1 },
    ),
    model: 'ultraface',
    mode: 'mains',
    deviceFingerprint: 'dashboard-test',
    catalogueHash: 'dashboard-test',
    ortVersion: 'test',
    derived: ['slim-320_u8in'],
    tookMs: 9500,
    decidedAt: Date.now(),
    trigger: 'agent-start: no cached decision',
  };

  beforeAll(async () => {
    store = new Store({
      file: path.join(dir, 'edge-agent.db'),
      config: parseConfig({}).store,
      clock: systemClock,
      log: silentLogger(),
    });
    // Ten minutes of telemetry as the agent records it (one sample every 10 s), before the page loads.
    const now = Date.now();
    for (let i = 60; i >= 1; i--) {
      store.metrics.record(now - i * 10_000, {
        fps: 4 + (i % 3),
        latencyInferenceP50Ms: 40 + (i % 5),
        latencyInferenceP95Ms: 60 + (i % 7),
        latencyTotalP50Ms: 55,
        latencyTotalP95Ms: 80 + (i % 4),
        model: 'yolox-nano',
      });
    }
    // Three hours on a simulated battery (fake clock), the drain ×1.5 from the first hour: the
    // battery plan's history and re-plans, as /api/battery serves them to the chart.
    battery = await simulateBatteryRun({
      candidates: [
        {
          variant: 'fp32',
          executionProvider: 'cpu',
          threads: 1,
          fidelity: 1,
          latencyMs: 100,
          cpuMsPerInference: 100,
        },
      ],
      fullWh: 50,
      targetHours: 12,
      power: powerModelFor('raspberry-pi-4', false),
      change: { atHours: 1, factor: 1.5 },
      maxHours: 3,
    });
    const profile = readProfile({
      root: path.join(REPO, 'test/fixtures/hardware/raspberry-pi-5'),
      dataDir: dir,
    });
    served = await serveSamples({ streamMaxFps: 5 }, (pipeline) => ({
      profile: () => profile,
      // As the agent answers with a tuner decision in force (src/agent.ts), and its chart.
      decision: () => ({
        source: 'tuner',
        variant: decision.chosen?.variant ?? null,
        ...decisionJson(decision),
      }),
      history: (field, from, to) => store.metrics.history(field, from, to),
      getReadings: async () => ({
        batteryPercent: 70,
        onBattery: true,
        ...batteryReadings(battery.replanner.status()),
      }),
      routes: [
        (app) => {
          app.get('/api/decision/plot.svg', async (_req, reply) =>
            reply.type('image/svg+xml').send(decisionSvg(decision)),
          );
        },
        batteryFeature({ replanner: battery.replanner }).routes!,
        controlsFeature({
          controls: new Controls({
            pipeline: () => pipeline,
            config: parseConfig({}).pipeline,
            variants: () => ['fp32'],
            setVariant: async () => undefined,
            restart: (reason) => restarts.push(reason),
            // The tuner's part of the controls, recorded (the agent wires TunerController here).
            objective: () => objective,
            setObjective: async (o) => {
              objective = o;
            },
            retune: (reason) => retunes.push(reason),
          }),
        }).routes!,
      ],
    }));
    await waitForResult(served.pipeline);
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: toolPath('chromium'),
      headless: true,
      args: CHROMIUM_FLAGS,
    });
  }, 90_000);
  afterAll(async () => {
    await context?.close();
    await served?.close();
    await store?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(size: (typeof SIZES)[number]): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage();
    await page.setViewportSize({ width: size.width, height: size.height });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource'))
        errors.push(msg.text());
    });
    page.on('response', (res) => {
      // 404 on /api/live/frame until the first frame is encoded is part of the protocol.
      if (res.status() >= 400 && !res.url().endsWith('/api/live/frame'))
        errors.push(`${res.status()} ${res.url()}`);
    });
    await page.goto(`${served.url}/`);
    await page.waitForSelector('#dashboard:not([hidden])');
    return { page, errors };
  }

  for (const size of SIZES) {
    it(`${size.name} ${size.width}×${size.height}: no overflow, charts from history, humanised device panel, caption of the frame shown; screenshot`, async () => {
      const { page, errors } = await open(size);
      // History, not live polls (one a second), fills the charts right after load.
      await page.waitForFunction('series.t.length >= 50', null, { timeout: 5000 });
      const p95 = (await page.evaluate('series.inferenceP95')) as Array<number | null>;
      expect(p95.filter((v) => typeof v === 'number' && v > 0).length).toBeGreaterThanOrEqual(50);
      expect(await page.evaluate('latencyChart.series.map((s) => s.label)')).toEqual([
        'Time',
        'inference p50',
        'inference p95',
        'capture → result p95',
      ]);
      expect(await page.locator('#latency-chart canvas').count()).toBe(1);

      // The picture and the caption come from one answer: same frame number.
      await page.waitForFunction("document.getElementById('stream').naturalWidth > 0", null, {
        timeout: 20_000,
      });
      const seqs = (await page.evaluate(
        "[document.getElementById('stream').dataset.seq, document.getElementById('latest').dataset.seq, document.getElementById('latest').textContent]",
      )) as [string, string, string];
      expect(seqs[0]).toBe(seqs[1]);
      expect(seqs[2]).toContain(`frame #${seqs[0]} `);

      await page.waitForFunction(
        "document.getElementById('profile').textContent.includes('Raspberry Pi 5')",
        null,
        {
          timeout: 30_000,
        },
      );
      const device = (await page.locator('#profile').textContent()) ?? '';
      expect(device).not.toContain('[object Object]');
      expect(device).toMatch(/4× cortex-a76/);
      expect(device).toMatch(/GiB budget/);
      await page.waitForFunction("document.querySelectorAll('#variants tr').length > 1");
      await page.waitForFunction("document.getElementById('ctl-variant').options.length > 0");

      const overflow = (await page.evaluate(
        '({ page: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth })',
      )) as { page: number; body: number; view: number };
      expect(overflow.page, JSON.stringify(overflow)).toBeLessThanOrEqual(overflow.view);
      expect(overflow.body).toBeLessThanOrEqual(overflow.view);

      const shots = path.join(REPO, 'test-artifacts');
      mkdirSync(shots, { recursive: true });
      const shot = path.join(shots, `dashboard-${size.name}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(20_000);
      expect(errors).toEqual([]);
      await page.close();
    }, 90_000);
  }

  it("the battery plan: remaining time in the readings, and the chart of measured energy against every plan's predicted line", async () => {
    const { page, errors } = await open(SIZES[0]);
    await page.waitForFunction("document.getElementById('readings').textContent.includes('battery plan')");
    const readings = (await page.locator('#readings').textContent()) ?? '';
    expect(readings).toMatch(/h left of the [\d.]+ h target/);
    expect(readings).toMatch(/energy model estimated/);
    await page.waitForSelector('#battery-chart:not([hidden]) polyline.measured', { timeout: 10_000 });
    const history = battery.replanner.energyHistory();
    expect(history.length).toBeGreaterThan(30);
    // One measured point per energy reading, every one on the chart.
    const points = (await page.getAttribute('#battery-chart polyline.measured', 'points')) ?? '';
    expect(points.trim().split(/\s+/)).toHaveLength(history.length);
    // The energy falls: the measured line goes down the chart (SVG y grows downwards).
    const ys = points
      .trim()
      .split(/\s+/)
      .map((p) => Number(p.split(',')[1]));
    expect(ys[ys.length - 1]!).toBeGreaterThan(ys[0]!);
    // A planned line per re-plan; the drain re-plan after the ×1.5 rise is one of them.
    const plans = battery.replanner.replans().filter((r) => r.trigger !== 'mains');
    expect(plans.some((r) => r.trigger === 'drain')).toBe(true);
    expect(await page.locator('#battery-chart line.planned').count()).toBe(plans.length);
    expect(await page.locator('#battery-chart line.target').count()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('the controls change the running pipeline (fps, inference off/on), the tuner (objective, re-tune) and restart asks the agent', async () => {
    const { page, errors } = await open(SIZES[1]);
    await page.waitForFunction("document.getElementById('ctl-variant').options.length > 0");
    await page.fill('#ctl-fps', '3');
    await page.click('#ctl-fps-set');
    await expect.poll(() => served.pipeline.stats().pacing).toMatchObject({ mode: 'continuous', fps: 3 });
    await page.click('#ctl-inference');
    await expect.poll(() => served.pipeline.stats().pacing.mode).toBe('duty-cycle');
    await expect.poll(() => page.locator('#ctl-state').textContent()).toContain('inference off');
    await page.click('#ctl-inference');
    await expect.poll(() => served.pipeline.stats().pacing).toMatchObject({ mode: 'continuous', fps: 3 });
    await page.selectOption('#ctl-objective', 'min-latency');
    await expect.poll(() => objective).toBe('min-latency');
    await page.click('#ctl-retune');
    await expect.poll(() => retunes).toEqual(['dashboard']);
    page.once('dialog', (d) => void d.accept());
    await page.click('#ctl-restart');
    await expect.poll(() => restarts).toEqual(['dashboard']);
    // A cross-site form post (not JSON) is refused.
    const form = await fetch(`${served.url}/api/controls`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'fps=1',
    });
    expect(form.status).toBe(415);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("the tuner panel: the decision's reason, its chart and every candidate with its preparation per frame", async () => {
    const { page, errors } = await open(SIZES[0]);
    await page.waitForSelector('#tuner-panel:not([hidden])', { timeout: 10_000 });
    await page.waitForFunction("document.querySelectorAll('#tuner-candidates tr').length === 3", null, {
      timeout: 10_000,
    });
    const table = (await page.evaluate(
      "[...document.querySelectorAll('#tuner-candidates tr')].map((r) => [...r.children].map((c) => c.textContent))",
    )) as string[][];
    const header = table[0]!;
    const col = (name: string) => header.indexOf(name);
    expect(col('prep ms')).toBeGreaterThan(col('p50 / p95 / p99 ms'));
    const row = (variant: string) => table.find((r) => r[0] === variant)!;
    expect(row('slim-320')[col('prep ms')]).toBe('0.38');
    expect(row('slim-320_u8in')[col('prep ms')]).toBe('0.04');
    // The policy's tie clause chose the derived variant over the one serving; the page says so.
    expect(row('slim-320_u8in')[col('verdict')]).toBe('chosen');
    expect(await page.textContent('#tuner-summary')).toMatch(
      /equal to the current slim-320@cpu\/1t within noise/,
    );
    expect(await page.locator('#tuner-plot svg').count()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
