import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TSX_LOADER } from './cli.js';
import { REPO } from './paths.js';
import { waitUntil } from './wait.js';

/**
 * `edge-agent run` as a real process on free ports (HTTP and embedded MQTT on port 0), its JSON
 * log lines collected. The HTTP URL comes from the `http listening` line.
 */
export class AgentProcess {
  readonly lines: Array<Record<string, unknown>> = [];
  stdout = '';
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d) => {
      this.stdout += d;
      const parts = this.stdout.split('\n');
      this.stdout = parts.pop() ?? '';
      for (const line of parts) {
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.lines.push({ msg: line });
        }
      }
    });
    child.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  /** Writes `config` to DIR/agent.config.json (merged over test defaults) and starts the agent. */
  static start(dir: string, config: Record<string, unknown>, env: Record<string, string> = {}): AgentProcess {
    const file = path.join(dir, 'agent.config.json');
    const base = {
      dataDir: path.join(dir, 'data'),
      models: { dir: path.join(REPO, 'models'), default: 'squeezenet1.1' },
      camera: { source: `images:${path.join(REPO, 'samples')}`, fps: 5 },
      inference: { threads: 1 },
      log: { level: 'info' },
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
    };
    writeFileSync(file, JSON.stringify({ ...base, ...config }));
    const child = spawn(
      process.execPath,
      ['--import', TSX_LOADER, path.join(REPO, 'src/cli.ts'), 'run', '--config', file],
      { cwd: dir, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    return new AgentProcess(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first log line matching `match`, waiting up to `timeoutMs`; fails early if the agent exits. */
  async line(
    match: (l: Record<string, unknown>) => boolean,
    timeoutMs = 60_000,
  ): Promise<Record<string, unknown>> {
    return waitUntil(
      () => {
        const found = this.lines.find(match);
        if (found) return found;
        if (this.exit) throw new Error(`agent exited (${JSON.stringify(this.exit)}) first\n${this.log()}`);
        return undefined;
      },
      timeoutMs,
      () => `log line not seen\n${this.log()}`,
    );
  }

  async url(timeoutMs = 60_000): Promise<string> {
    const l = await this.line((x) => x.msg === 'http listening', timeoutMs);
    return String(l.url);
  }

  /** The last log lines and stderr, for failure messages. */
  log(): string {
    return `${this.lines
      .slice(-30)
      .map((l) => JSON.stringify(l))
      .join('\n')}\n${this.stderr.slice(-3000)}`;
  }

  /** Peak and current resident memory of the agent process, MB (from /proc). */
  memoryMB(): { peak: number; rss: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { peak: kb('VmHWM') / 1024, rss: kb('VmRSS') / 1024 };
  }

  /** Sends SIGTERM and waits for the exit (SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL without waiting for a clean stop (teardown after a failed test). */
  kill(): void {
    if (!this.exit) this.child.kill('SIGKILL');
  }

  wait(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }
}
