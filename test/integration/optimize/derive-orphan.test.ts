import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childEntry } from '../../../src/child-entry.js';
import { running } from '../../helpers/processes.js';
import { waitUntil } from '../../helpers/wait.js';
import { catalogWith, modelsDir, tempDataDir } from './helpers.js';

/**
 * The caller, as the agent forks it (derive-process.ts): the derivation child with the job, then
 * killed outright once calibration starts — the agent taken by the OOM killer or a `kill -9`, with
 * no chance to tell the child anything.
 */
const CALLER = `
import { fork } from 'node:child_process';
const { script, execArgv, job } = JSON.parse(process.env.DERIVE_CHILD);
const child = fork(script, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
console.log('child ' + child.pid);
child.on('message', (m) => {
  if (m.type === 'progress' && m.progress.stage === 'calibrate') process.kill(process.pid, 'SIGKILL');
  if (m.type !== 'progress') console.log('answered ' + m.type);
});
child.send({ type: 'derive', job });
`;

describe('a derivation whose agent dies', () => {
  it('stops in its child (working for nobody), writes no variant and leaves no temporary file', async () => {
    const dataDir = tempDataDir();
    const entry = childEntry(
      new URL('../../../src/optimize/process/derive-process.ts', import.meta.url).href,
      'derive-child',
    );
    const job = {
      modelsDir,
      dataDir,
      model: 'yolox-nano',
      method: 'int8-static',
      params: { floor: 0.9 },
      threads: 1,
    };
    const caller = spawn(process.execPath, ['--input-type=module', '-e', CALLER], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, DERIVE_CHILD: JSON.stringify({ ...entry, job }) },
    });
    let out = '';
    caller.stdout.on('data', (d) => {
      out += String(d);
    });
    const exit = await new Promise<NodeJS.Signals | null>((resolve) =>
      caller.once('exit', (_c, s) => resolve(s)),
    );
    expect(exit, out).toBe('SIGKILL'); // killed at calibration, not done before it
    expect(out).not.toMatch(/answered/);
    const childPid = Number(/child (\d+)/.exec(out)?.[1]);
    expect(childPid).toBeGreaterThan(0);
    const killedAt = Date.now();
    try {
      await waitUntil(
        () => !running(childPid) || undefined,
        15_000,
        () => `derivation child ${childPid} still runs after its caller died`,
      );
    } finally {
      if (running(childPid)) process.kill(childPid, 'SIGKILL');
    }
    console.log(`derivation child ended ${Date.now() - killedAt} ms after its caller was killed`);
    const dir = path.join(dataDir, 'models', 'yolox-nano');
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    const catalog = await catalogWith(dataDir);
    expect(catalog.model('yolox-nano').variants.every((v) => !v.derived)).toBe(true);
  }, 120_000);
});
