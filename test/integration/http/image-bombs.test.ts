import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentProcess } from '../../helpers/agent-process.js';
import { runCli } from '../../helpers/cli.js';
import { IMAGES, MODELS } from '../../helpers/paths.js';

/**
 * Decompression bombs against a real agent process: a 16000×16000 PNG (compresses to under 1 MB,
 * 768 MB once decoded) and a 120-byte SVG declaring 100000×100000. Before the fix the PNG took the
 * agent from 212 to 986 MB and the SVG to 1.26 GB; now both are refused from their header.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'ea-bombs-'));
const bombFile = path.join(dir, 'bomb.png');
const svgFile = path.join(dir, 'bomb.svg');
const svg =
  '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="100%" height="100%"/></svg>';
const photo = readFileSync(path.join(IMAGES, 'coco_val2017/000000086956.jpg'));
let bomb: Buffer;
let agent: AgentProcess;
let url: string;

beforeAll(async () => {
  bomb = await sharp({ create: { width: 16000, height: 16000, channels: 3, background: '#000' } })
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
  writeFileSync(bombFile, bomb);
  writeFileSync(svgFile, svg);
  agent = AgentProcess.start({
    models: { dir: MODELS, default: 'squeezenet1.1' },
    mqtt: { embedded: { port: 0 } },
  });
  url = await agent.url();
}, 120_000);

afterAll(async () => {
  if (agent) {
    await agent.terminate();
    rmSync(agent.dir, { recursive: true, force: true });
  }
  rmSync(dir, { recursive: true, force: true });
});

const post = (body: Buffer | string, type: string) =>
  fetch(`${url}/api/infer`, { method: 'POST', headers: { 'Content-Type': type }, body });

describe('POST /api/infer refuses decompression bombs', () => {
  it('a 16000x16000 PNG is 413 before decoding; memory stays where it was', async () => {
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    const before = agent.memoryMB();
    const res = await post(bomb, 'image/png');
    expect(res.status).toBe(413);
    const { error } = (await res.json()) as { error: string };
    expect(error).toMatch(
      /16000x16000 \(256\.0 Mpx\), more than the 12\.6 Mpx allowed \(inference\.maxInputPixels\)/,
    );
    // Decoding it would need 768 MB for the pixels alone.
    expect(agent.memoryMB().peak - before.peak).toBeLessThan(150);
  });

  it('an SVG is 415 whatever Content-Type it claims, and is never rendered', async () => {
    const before = agent.memoryMB();
    for (const type of ['application/octet-stream', 'image/png']) {
      const res = await post(svg, type);
      expect(res.status).toBe(415);
      expect(((await res.json()) as { error: string }).error).toMatch(
        /SVG is not accepted \(raster formats only/,
      );
    }
    expect(agent.memoryMB().peak - before.peak).toBeLessThan(150);
  });

  it('concurrent requests beyond http.inferConcurrency (1) get 429 with Retry-After', async () => {
    const responses = await Promise.all(Array.from({ length: 6 }, () => post(photo, 'image/jpeg')));
    const statuses = responses.map((r) => r.status);
    expect(
      statuses.every((s) => s === 200 || s === 429),
      statuses.join(','),
    ).toBe(true);
    expect(statuses).toContain(200);
    expect(statuses).toContain(429);
    const busy = responses.find((r) => r.status === 429)!;
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(((await busy.json()) as { error: string }).error).toMatch(/busy: .*http\.inferConcurrency 1/);
    // Once the burst is over the agent infers again.
    expect((await post(photo, 'image/jpeg')).status).toBe(200);
  });

  it('the agent is still serving after all of it', async () => {
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(agent.exit).toBeUndefined();
  });
});

describe('edge-agent infer refuses decompression bombs', () => {
  it('a 16000x16000 PNG: exit 1, one line naming the limit', async () => {
    const run = await runCli(['infer', bombFile, '--model', 'squeezenet1.1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/16000x16000 \(256\.0 Mpx\), more than the 12\.6 Mpx allowed/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe('');
  }, 60_000);

  it('an SVG: exit 1, refused as not a raster format', async () => {
    const run = await runCli(['infer', svgFile, '--model', 'squeezenet1.1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/SVG is not accepted/);
  }, 60_000);

  it('the limit comes from the config: a larger inference.maxInputPixels lets a larger image through', async () => {
    const big = path.join(dir, 'big.png');
    await sharp({ create: { width: 5000, height: 3000, channels: 3, background: '#444' } })
      .png()
      .toFile(big);
    const refused = await runCli(['infer', big, '--model', 'squeezenet1.1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/5000x3000 \(15\.0 Mpx\)/);
    const config = path.join(dir, 'big.config.json');
    writeFileSync(
      config,
      JSON.stringify({ models: { dir: MODELS }, inference: { maxInputPixels: 16_000_000 } }),
    );
    const allowed = await runCli(['infer', big, '--model', 'squeezenet1.1', '--config', config, '--json']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout).image).toEqual({ width: 5000, height: 3000 });
  }, 120_000);
});
