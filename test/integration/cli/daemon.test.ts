import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { TSX_LOADER } from '../../helpers/cli.js';
import { REPO } from '../../helpers/paths.js';

describe('edge-agent run (the daemon)', () => {
  it('processes frames from the sample folder and exits 0 on SIGTERM within 2 s, database closed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-daemon-'));
    const config = path.join(dir, 'agent.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: path.join(dir, 'data'),
        models: { dir: path.join(REPO, 'models'), default: 'yolox-nano' },
        camera: { source: `images:${path.join(REPO, 'samples')}`, fps: 20 },
        inference: { threads: 1 },
        // Every result is logged at debug level; free ports so parallel tests never collide.
        log: { level: 'debug' },
        http: { port: 0 },
        mqtt: { embedded: { port: 0 } },
      }),
    );
    const child = spawn(
      process.execPath,
      ['--import', TSX_LOADER, path.join(REPO, 'src/cli.ts'), 'run', '--config', config],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const processed = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no frames within 30 s\n${stdout}\n${stderr}`)),
        30_000,
      );
      child.stdout.on('data', (d) => {
        stdout += d;
        const frames = stdout.split('\n').filter((l) => l.includes('"msg":"inference"')).length;
        if (frames >= 3) {
          clearTimeout(timer);
          resolve(frames);
        }
      });
      child.on('exit', (code) => reject(new Error(`daemon exited early with ${code}\n${stdout}\n${stderr}`)));
    });
    expect(processed).toBeGreaterThanOrEqual(3);
    const lines = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const inference = lines.find((l) => l.msg === 'inference');
    expect(inference).toMatchObject({
      component: 'pipeline',
      frame: expect.any(String),
      timings: expect.any(Object),
    });

    child.removeAllListeners('exit');
    const sentAt = performance.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const exitMs = performance.now() - sentAt;
    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(2000);
    expect(stdout).toContain('"msg":"agent stopped"');

    // The run was recorded and closed cleanly: the WAL is checkpointed on close, so a fresh
    // reader sees the stop time and the frame count.
    const db = new Database(path.join(dir, 'data', 'edge-agent.db'), { readonly: true });
    const run = db.prepare('SELECT * FROM agent_runs').get() as {
      stopped_at: number | null;
      frames_processed: number;
    };
    db.close();
    expect(run.stopped_at).not.toBeNull();
    expect(run.frames_processed).toBeGreaterThanOrEqual(3);
  });
});
