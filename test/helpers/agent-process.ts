import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TSX_LOADER } from './cli.js';
import { REPO } from './paths.js';
import { waitUntil } from './wait.js';

/**
 * A real `edge-agent run` process on a config written to a temp folder (free ports, its own data
 * folder). Its JSON log lines are parsed as they arrive.
 */
export class AgentProcess {
  readonly lines: Array<Record<string, unknown>> = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>;

  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    readonly configFile: string,
  ) {
    let buffer = '';
    child.stdout?.on('data', (d) => {
      buffer += d;
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) {
        if (!line.trim()) continue;
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.lines.push({ msg: line });
        }
      }
    });
    child.stderr?.on('data', (d) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal, atMs: performance.now() })),
    );
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  /**
   * Starts the agent; `config` is merged over small defaults (sample images, free ports). By default
   * the sources through tsx; `built` runs a compiled `cli.js` with the given node arguments instead.
   */
  static start(
    config: Record<string, unknown>,
    env: Record<string, string> = {},
    built?: { cli: string; nodeArgs: readonly string[] },
  ): AgentProcess {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-agent-'));
    const configFile = path.join(dir, 'agent.config.json');
    writeFileSync(
      configFile,
      JSON.stringify(
        {
          dataDir: path.join(dir, 'data'),
          models: { dir: path.join(REPO, 'models'), default: 'yolox-nano' },
          camera: { source: `images:${path.join(REPO, 'samples')}`, fps: 2 },
          inference: { threads: 1 },
          http: { port: 0 },
          ...config,
        },
        null,
        2,
      ),
    );
    const entry = built
      ? [...built.nodeArgs, built.cli]
      : ['--import', TSX_LOADER, path.join(REPO, 'src/cli.ts')];
    const child = spawn(process.execPath, [...entry, 'run', '--config', configFile], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new AgentProcess(child, dir, configFile);
  }

  waitFor(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> {
    return waitUntil(
      () => this.lines.find(match),
      timeoutMs,
      () => `agent log line not seen\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}\n${this.stderr}`,
    );
  }

  /** Sends SIGTERM and resolves with the exit code and the time it took, ms. */
  async terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const sentAt = performance.now();
    this.child.kill('SIGTERM');
    const { code, signal, atMs } = await this.exited;
    return { code, signal, ms: atMs - sentAt };
  }

  /** The exit, once the process has exited. */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    const { exitCode, signalCode } = this.child;
    return exitCode === null && signalCode === null ? undefined : { code: exitCode, signal: signalCode };
  }

  /** The HTTP URL from the `http listening` line. */
  async url(timeoutMs = 60_000): Promise<string> {
    return String((await this.waitFor((l) => l.msg === 'http listening', timeoutMs)).url);
  }

  /** Polls `/api/results/latest` until a frame's result (with its detections) is there. */
  async firstResult(timeoutMs = 60_000): Promise<{ detections: unknown[]; variant?: string }> {
    const url = await this.url();
    for (const deadline = Date.now() + timeoutMs; ; ) {
      if (Date.now() > deadline) throw new Error(`no result from the agent\n${this.log()}`);
      const res = await fetch(`${url}/api/results/latest`).catch(() => undefined);
      const body = res?.ok ? ((await res.json()) as { detections?: unknown[]; variant?: string }) : undefined;
      if (body?.detections) return body as { detections: unknown[]; variant?: string };
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The last log lines and stderr, for failure messages. */
  log(): string {
    return `${this.lines
      .slice(-30)
      .map((l) => JSON.stringify(l))
      .join('\n')}\n${this.stderr.slice(-3000)}`;
  }

  /** Current and peak resident memory of the agent process, MB (/proc/PID/status VmRSS, VmHWM). */
  memoryMB(): { rss: number; peak: number } {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
