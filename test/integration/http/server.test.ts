import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelView } from '../../../src/http/models-view.js';
import { publicDir } from '../../../src/http/server.js';
import { parseMjpegParts } from '../../../src/http/stream.js';
import type { InferenceJson } from '../../../src/inference/json.js';
import type { FrameResult } from '../../../src/pipeline/pipeline.js';
import { runCli } from '../../helpers/cli.js';
import { REPO } from '../../helpers/paths.js';
import { promtoolCheckMetrics } from '../../helpers/promtool.js';
import { requireTool } from '../../helpers/system-tools.js';
import { type Served, serveSamples, waitForResult } from './fixture.js';
import { parsePrometheusText } from './prometheus-text.js';

const JPEG = path.join(REPO, 'samples', '000000193245.jpg');

/** Reads `count` JPEG parts from the MJPEG stream, then closes it. */
function readStream(
  url: string,
  count: number,
): Promise<{ contentType: string | undefined; parts: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      let buffer = Buffer.alloc(0);
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        const parsed = parseMjpegParts(Buffer.concat([buffer, chunk]));
        parts.push(...parsed.parts);
        buffer = Buffer.from(parsed.rest);
        if (parts.length >= count) {
          req.destroy();
          resolve({ contentType: res.headers['content-type'], parts });
        }
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
    setTimeout(() => reject(new Error('stream timeout')), 20_000).unref();
  });
}

describe('HTTP serving (real pipeline on the sample folder)', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serveSamples({ inferMaxBytes: 2 * 1024 * 1024, streamMaxFps: 10 });
    await waitForResult(s.pipeline);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('GET /healthz and /api/status', async () => {
    const health = await fetch(`${s.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', pipeline: 'running', camera: 'online', faults: [] });
    const status = (await (await fetch(`${s.url}/api/status`)).json()) as {
      pipeline: { counters: { processed: number }; latency: { inferenceMs: { p50Ms: number } } };
    };
    expect(status).toMatchObject({
      version: '0.0.0-test',
      model: { name: 'yolox-nano', variant: 'fp32', task: 'detection', executionProvider: 'cpu' },
      camera: { state: 'online', quality: 'excellent' },
      pipeline: { state: 'running', pacing: { mode: 'continuous' } },
      readings: null,
    });
    expect(status.pipeline.counters.processed).toBeGreaterThan(0);
    expect(status.pipeline.latency.inferenceMs.p50Ms).toBeGreaterThan(0);
  });

  it('GET /api/profile: 503 with a reason until the hardware part provides it', async () => {
    const res = await fetch(`${s.url}/api/profile`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(/not available/);
  });

  it('GET /api/models: bundled variants with size, quality and the latency measured here', async () => {
    const body = (await (await fetch(`${s.url}/api/models`)).json()) as {
      active: unknown;
      models: ModelView[];
    };
    expect(body.active).toEqual({ model: 'yolox-nano', variant: 'fp32' });
    expect(body.models.map((m) => m.name).sort()).toEqual(['squeezenet1.1', 'ultraface', 'yolox-nano']);
    const yolox = body.models.find((m) => m.name === 'yolox-nano')!.variants[0]!;
    expect(yolox).toMatchObject({
      id: 'fp32',
      active: true,
      precision: 'fp32',
      bytes: 3660092,
      fidelity: 1,
      accuracy: 0.47,
    });
    expect(yolox.latencyP50Ms).toBeGreaterThan(0);
    expect(yolox.input).toEqual({ width: 416, height: 416, dtype: 'float32', layout: 'NCHW' });
    const ultraface = body.models.find((m) => m.name === 'ultraface')!;
    const rfb640 = ultraface.variants.find((v) => v.id === 'rfb-640')!;
    expect(rfb640.active).toBe(false);
    expect(rfb640.latencyP50Ms).toBeUndefined();
    expect(rfb640.input.width).toBe(640);
  });

  it('GET /api/decision and /api/results/latest', async () => {
    expect(await (await fetch(`${s.url}/api/decision`)).json()).toMatchObject({
      variant: 'fp32',
      source: 'config',
    });
    const latest = (await (await fetch(`${s.url}/api/results/latest`)).json()) as FrameResult;
    expect(latest).toMatchObject({ model: 'yolox-nano', variant: 'fp32', task: 'detection' });
    expect(typeof latest.capturedAtMs).toBe('number');
    expect(latest.origin).toMatch(/\.(jpg|png)$/);
    expect(Array.isArray(latest.detections)).toBe(true);
  });

  it('POST /api/infer returns the same JSON as `edge-agent infer --json`', async () => {
    const res = await fetch(`${s.url}/api/infer`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/jpeg' },
      body: readFileSync(JPEG),
    });
    expect(res.status).toBe(200);
    const served = (await res.json()) as InferenceJson;
    const cli = await runCli(['infer', JPEG, '--json', '--threads', '1']);
    expect(cli.code).toBe(0);
    const printed = JSON.parse(cli.stdout) as InferenceJson;
    expect(Object.keys(served).sort()).toEqual(Object.keys(printed).sort());
    const { timings: t1, ...restServed } = served;
    const { timings: t2, ...restPrinted } = printed;
    expect(restServed).toEqual(restPrinted);
    expect(Object.keys(t1)).toEqual(Object.keys(t2));
    expect('detections' in restServed && restServed.detections.length).toBeGreaterThan(0);
  });

  it('POST /api/infer refuses bad input with a clear status and message', async () => {
    const post = (body: string | Uint8Array, type: string) =>
      fetch(`${s.url}/api/infer`, { method: 'POST', headers: { 'Content-Type': type }, body });
    const garbage = await post('not an image at all', 'image/jpeg');
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { error: string }).error).toMatch(/cannot decode image/);
    const empty = await post(new Uint8Array(0), 'image/png');
    expect(empty.status).toBe(400);
    const big = await post(new Uint8Array(3 * 1024 * 1024), 'image/jpeg');
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: string }).error).toContain('http.inferMaxBytes');
    const text = await post('hello', 'text/plain');
    expect(text.status).toBe(415);
  });

  it('GET /api/stream.mjpg delivers multipart JPEG frames with the results drawn', async () => {
    const { contentType, parts } = await readStream(`${s.url}/api/stream.mjpg`, 3);
    expect(contentType).toBe('multipart/x-mixed-replace; boundary=edgeagentframe');
    for (const part of parts) {
      expect(part.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
      expect(part.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
      const meta = await sharp(part).metadata();
      expect(meta.format).toBe('jpeg');
      expect(meta.width).toBeGreaterThan(200);
    }
    expect(s.server.stream.encoded).toBeGreaterThanOrEqual(2);
  });

  it('GET /metrics parses as Prometheus text with stage histograms, counters and camera state', async () => {
    const res = await fetch(`${s.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    const byName = parsePrometheusText(await res.text());
    const stages = byName.get('edge_agent_frame_stage_seconds')!;
    expect(stages.type).toBe('histogram');
    const counts = stages.samples.filter((x) => x.name.endsWith('_count'));
    expect(counts.map((x) => x.labels.stage).sort()).toEqual([
      'capture_age',
      'inference',
      'postprocess',
      'preprocess',
      'total',
    ]);
    expect(counts.find((x) => x.labels.stage === 'inference')!.value).toBeGreaterThan(0);
    const frames = byName.get('edge_agent_frames_total')!;
    expect(frames.type).toBe('counter');
    expect(frames.samples.find((x) => x.labels.outcome === 'processed')!.value).toBeGreaterThan(0);
    const online = byName.get('edge_agent_camera_state')!.samples.find((x) => x.labels.state === 'online');
    expect(online?.value).toBe(1);
    expect(byName.get('edge_agent_model_info')!.samples[0]!.labels).toEqual({
      model: 'yolox-nano',
      variant: 'fp32',
      execution_provider: 'cpu',
    });
    expect(byName.has('process_resident_memory_bytes')).toBe(true);
    expect(byName.has('edge_agent_battery_ratio')).toBe(false); // no readings wired in
    expect(byName.has('edge_agent_device_cpu_ratio')).toBe(false); // no telemetry wired in
    expect(() => parsePrometheusText('edge_agent_x 1\n')).toThrow(/without a TYPE/);
  });

  it('serves the dashboard files (and nothing else from the vendored library)', async () => {
    const page = await fetch(`${s.url}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<title>edge-agent</title>');
    expect((await fetch(`${s.url}/app.js`)).status).toBe(200);
    expect((await fetch(`${s.url}/vendor/uPlot.iife.min.js`)).status).toBe(200);
    expect((await fetch(`${s.url}/vendor/uPlot.min.css`)).status).toBe(200);
    expect((await fetch(`${s.url}/vendor/package.json`)).status).toBe(404);
    const js = await fetch(`${s.url}/app.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toBe(readFileSync(path.join(publicDir(), 'app.js'), 'utf8'));
    // A fixed list of files, never a path resolved on disk: traversal and unknown names are 404.
    for (const p of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/vendor/..%2Fuplot%2Fpackage.json',
      '/nope.js',
    ])
      expect((await fetch(`${s.url}${p}`)).status, p).toBe(404);
    expect((await fetch(`${s.url}/app.js`, { method: 'HEAD' })).status).toBe(200);
  });
});

const hasPromtool = requireTool('promtool', 'prometheus');

describe('/metrics with the telemetry record and device readings', () => {
  const record = {
    ts: 1,
    deviceId: 'pi-7',
    intervalS: 10,
    uptimeS: 60,
    fps: 12.5,
    framesProcessed: 125,
    framesDropped: 3,
    framesDroppedTotal: 9,
    framesFailed: 0,
    cpuPercent: 37,
    agentCpuPercent: 41,
    agentRssMB: 140,
    throttled: true,
    powerW: 6.25,
    energyPerInferenceJ: 0.5,
    latencyInferenceP95Ms: 17.5,
    model: 'yolox-nano',
    variant: 'fp32',
    powerMode: 'throttled',
    outboxPending: 4,
    outboxDroppedTotal: 2,
  };
  let served: Served;
  let text: string;
  beforeAll(async () => {
    served = await serveSamples(
      {},
      {
        getTelemetry: () => record,
        getReadings: async () => ({
          temperaturesC: { 'cpu-thermal': 61.5 },
          batteryPercent: 80,
          powerW: 6.25,
        }),
      },
    );
    await waitForResult(served.pipeline);
    text = await (await fetch(`${served.url}/metrics`)).text();
  });
  afterAll(async () => {
    await served?.close();
  });

  it('adds only the figures the record alone has, in base units, and no telemetry duplicates', () => {
    const byName = parsePrometheusText(text);
    expect(byName.get('edge_agent_energy_per_inference_joules')!.samples[0]!.value).toBe(0.5);
    expect(byName.get('edge_agent_device_cpu_ratio')!.samples[0]!.value).toBeCloseTo(0.37);
    expect(byName.get('edge_agent_throttled')!.samples[0]!.value).toBe(1);
    expect(byName.get('edge_agent_outbox_pending_messages')!.samples[0]!.value).toBe(4);
    expect(byName.get('edge_agent_outbox_dropped_messages_total')!.type).toBe('counter');
    expect(byName.get('edge_agent_power_mode')!.samples[0]!.labels).toEqual({ mode: 'throttled' });
    expect(byName.get('edge_agent_battery_ratio')!.samples[0]!.value).toBe(0.8);
    expect(byName.get('edge_agent_temperature_celsius')!.samples[0]).toMatchObject({
      value: 61.5,
      labels: { zone: 'cpu-thermal' },
    });
    // No hand-written families, no units other than base units, HELP on every family.
    for (const [name, family] of byName) {
      expect(name).not.toMatch(/^edge_agent_telemetry_/);
      expect(name).not.toMatch(/_(ms|mb|percent|s)(_total)?$/);
      expect(family.help, name).not.toBe('');
      if (family.type !== 'counter') expect(name).not.toMatch(/_total$/);
    }
    expect(byName.get('edge_agent_battery_charging')?.samples ?? []).toEqual([]); // unknown: no sample, not 0
  });

  it.skipIf(!hasPromtool)('passes promtool check metrics', () => {
    const { status, problems } = promtoolCheckMetrics(text);
    expect(problems).toBe('');
    expect(status).toBe(0);
  });

  it.skipIf(!hasPromtool)('promtool does catch what the old renderer did (the check can fail)', () => {
    const bad = '# TYPE edge_agent_telemetry_latency_ms gauge\nedge_agent_telemetry_latency_ms 3\n';
    expect(promtoolCheckMetrics(bad).status).not.toBe(0);
  });
});
