import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/models/integrity.js';
import { derive } from '../../../src/optimize/derive.js';
import { deriveInChildProcess } from '../../../src/optimize/process/derive-process.js';
import type { Progress } from '../../../src/optimize/progress.js';
import { waitUntil } from '../../helpers/wait.js';
import { catalogWith, modelsDir, tempDataDir } from './helpers.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  await waitUntil(() => !alive(pid), 5000).catch(() => undefined);
  return !alive(pid);
}

/** Files of derived yolox variants in a data directory (hidden temporaries included). */
function derivedFiles(dataDir: string, model: string): string[] {
  const dir = path.join(dataDir, 'models', model);
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('derivation in a child process (what the agent runs for the derive command)', () => {
  it('writes the same variant, byte for byte, as deriving in-process, and forwards progress', async () => {
    const inChild = tempDataDir();
    const progress: Progress[] = [];
    let childPid = 0;
    const summary = await deriveInChildProcess(
      {
        modelsDir,
        dataDir: inChild,
        model: 'squeezenet1.1',
        method: 'int8-weights',
        params: {},
        threads: 1,
      },
      { onProgress: (p) => progress.push(p), onSpawn: (pid) => (childPid = pid) },
    );
    expect(childPid).not.toBe(process.pid);
    expect(childPid).toBeGreaterThan(0);
    expect(await gone(childPid)).toBe(true);

    const inProcess = tempDataDir();
    const local = await derive(
      await catalogWith(inProcess),
      'squeezenet1.1',
      'int8-weights',
      {},
      { threads: 1 },
    );
    expect(summary.variant.id).toBe(local.variant.id);
    expect(summary.variant.sha256).toBe(local.variant.sha256);
    const file = path.join(inChild, 'models', 'squeezenet1.1', summary.variant.file);
    expect(sha256Hex(readFileSync(file))).toBe(summary.variant.sha256);
    expect(summary.fidelity.fidelity).toBeCloseTo(local.fidelity.fidelity, 6);
    expect(summary.result.bytes).toBe(local.result.bytes);
    expect(summary.processPeakRssMB).toBeGreaterThan(50); // the child's own, reported back
    // The catalog the agent reloads afterwards lists it.
    const catalog = await catalogWith(inChild);
    expect(catalog.model('squeezenet1.1').variants.map((v) => v.id)).toContain(summary.variant.id);
    expect(progress.map((p) => p.stage)).toEqual(expect.arrayContaining(['derive', 'fidelity']));
  });

  it('an error in the child comes back with its message; an abort kills the child and writes nothing', async () => {
    const dataDir = tempDataDir();
    await expect(
      deriveInChildProcess({ modelsDir, dataDir, model: 'no-such-model', method: 'clean', params: {} }),
    ).rejects.toThrow(/no-such-model/);

    const controller = new AbortController();
    let childPid = 0;
    const running = deriveInChildProcess(
      { modelsDir, dataDir, model: 'yolox-nano', method: 'int8-static', params: { floor: 0.9 }, threads: 1 },
      {
        signal: controller.signal,
        onSpawn: (pid) => (childPid = pid),
        onProgress: (p) => {
          if (p.stage === 'calibrate') controller.abort();
        },
      },
    );
    await expect(running).rejects.toThrow('derivation aborted');
    expect(await gone(childPid)).toBe(true);
    expect(derivedFiles(dataDir, 'yolox-nano')).toEqual([]);
    // The child reaches calibration after loading, probing shapes (in groups) and evaluating the reference.
  }, 90_000);

  it('a child killed by the kernel (SIGKILL, as the OOM killer does) is reported as such', async () => {
    const dataDir = tempDataDir();
    let childPid = 0;
    const running = deriveInChildProcess(
      { modelsDir, dataDir, model: 'yolox-nano', method: 'int8-static', params: { floor: 0.9 }, threads: 1 },
      {
        onSpawn: (pid) => (childPid = pid),
        onProgress: (p) => {
          if (p.stage === 'calibrate' && alive(childPid)) process.kill(childPid, 'SIGKILL');
        },
      },
    );
    await expect(running).rejects.toThrow(/was killed \(SIGKILL\).*out of memory; the catalog is unchanged/);
    const catalog = await catalogWith(dataDir);
    expect(catalog.model('yolox-nano').variants.every((v) => !v.derived)).toBe(true);
  });
});
