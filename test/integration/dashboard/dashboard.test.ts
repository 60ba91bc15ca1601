import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe.skipIf(!hasChromium)('dashboard in headless Chromium', () => {
  let served: Served;
  let context: BrowserContext;
  let profile: string;
  beforeAll(async () => {
    served = await serveSamples({ streamMaxFps: 5 });
    await waitForResult(served.pipeline);
    profile = mkdtempSync(path.join(tmpdir(), 'ea-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: toolPath('chromium'),
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 1000 },
    });
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await served?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('shows the live stream, the latency and fps charts, the variants and their trade-off; screenshot saved', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => {
      // Failed requests are checked below by URL (the profile's 503 is expected here).
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource'))
        errors.push(msg.text());
    });
    page.on('response', (res) => {
      if (res.status() >= 400 && !res.url().endsWith('/api/profile'))
        errors.push(`${res.status()} ${res.url()}`);
    });
    await page.goto(`${served.url}/`);
    await page.waitForSelector('#dashboard:not([hidden])');

    // Expressions as strings: they run in the page, whose script keeps `series` as a global.
    await page.waitForFunction("document.getElementById('stream').naturalWidth > 0", null, {
      timeout: 20_000,
    });
    // The charts are uPlot canvases that have received several polls of data.
    await page.waitForFunction('series.t.length >= 3', null, { timeout: 20_000 });
    expect(await page.locator('#latency-chart canvas').count()).toBe(1);
    expect(await page.locator('#fps-chart canvas').count()).toBe(1);
    const latency = (await page.evaluate('series.inference')) as Array<number | null>;
    expect(latency.filter((v) => typeof v === 'number' && v > 0).length).toBeGreaterThan(0);

    // Variants table: every bundled variant; the active one measured and plotted.
    await page.waitForFunction("document.querySelectorAll('#variants tr').length > 1");
    expect(await page.locator('#variants tr').count()).toBe(1 + 6);
    await expect.poll(() => page.locator('#variants tr.active').textContent()).toContain('yolox-nano');
    await page.waitForFunction("document.querySelectorAll('#tradeoff circle.point').length >= 1");

    expect(await page.locator('#camera-state').textContent()).toContain('online');
    expect(await page.locator('#model').textContent()).toContain('yolox-nano/fp32');
    expect(await page.locator('#profile').textContent()).toContain('not available yet');
    expect(await page.locator('#latest').textContent()).toMatch(/frame #\d+/);

    const dir = path.join(REPO, 'test-artifacts');
    mkdirSync(dir, { recursive: true });
    const shot = path.join(dir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(20_000);
    expect(errors).toEqual([]);
  }, 90_000);
});
