import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { requireTool } from './system-tools.js';

/**
 * A real Mosquitto per test: a generated config, a free port on 127.0.0.1, its own data folder.
 * Never the system service. Tests that need it call `requireMosquitto()`: outside CI a missing
 * binary skips them with the install command printed; with EDGE_AGENT_CI=1 it fails them.
 */

const SEARCH = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin'];

export function mosquittoBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SEARCH];
  for (const dir of dirs) {
    const candidate = path.join(dir, 'mosquitto');
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** True when mosquitto can run; false (and a printed hint) to skip; throws under EDGE_AGENT_CI=1. */
export function requireMosquitto(): boolean {
  return requireTool('mosquitto', 'mosquitto', mosquittoBinary);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface MosquittoOptions {
  port?: number;
  /** Keep sessions and queued messages in a file (saved on SIGUSR1 and on clean exit). */
  persistence?: boolean;
  /** TLS listener: PEM files; `requireCertificate` turns on mutual TLS. */
  tls?: { ca: string; cert: string; key: string; requireCertificate?: boolean };
  /** Extra lines appended to the generated config. */
  extra?: string[];
  dir?: string;
}

export class Mosquitto {
  private child: ChildProcess | undefined;
  log = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly configFile: string,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(options: MosquittoOptions = {}): Promise<Mosquitto> {
    const binary = mosquittoBinary();
    if (!binary) throw new Error('mosquitto is not installed');
    const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'ea-mosquitto-'));
    const port = options.port ?? (await freePort());
    const lines = [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      `persistence ${options.persistence ? 'true' : 'false'}`,
      ...(options.persistence ? [`persistence_location ${dir}/`, 'autosave_interval 0'] : []),
      // Tests and the bench queue thousands of QoS 1 messages for offline observers.
      'max_queued_messages 0',
      'max_inflight_messages 100',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      ...(options.tls
        ? [
            `cafile ${options.tls.ca}`,
            `certfile ${options.tls.cert}`,
            `keyfile ${options.tls.key}`,
            `require_certificate ${options.tls.requireCertificate ? 'true' : 'false'}`,
          ]
        : []),
      ...(options.extra ?? []),
    ];
    const configFile = path.join(dir, `mosquitto-${port}.conf`);
    writeFileSync(configFile, `${lines.join('\n')}\n`);
    const broker = new Mosquitto(port, dir, configFile);
    await broker.launch();
    return broker;
  }

  /** Starts (again) with the same config and port; resolves once the port accepts connections. */
  async launch(): Promise<void> {
    const binary = mosquittoBinary()!;
    const child = spawn(binary, ['-c', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr?.on('data', (d) => {
      this.log += d;
      if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}:\n${this.log}`);
      if (
        this.log.includes(`Opening ipv4 listen socket on port ${this.port}`) &&
        (await canConnect(this.port))
      )
        return;
      await delay(25);
    }
    throw new Error(`mosquitto did not start on port ${this.port} within 10 s:\n${this.log}`);
  }

  /** SIGKILL: no will delivered for its own state, no persistence saved (unless saved before). */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Asks mosquitto to write its persistence file now (SIGUSR1), and waits until it did. */
  async save(): Promise<void> {
    const file = path.join(this.dir, 'mosquitto.db');
    const before = existsSync(file) ? statSync(file).mtimeMs : 0;
    this.child?.kill('SIGUSR1');
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (existsSync(file) && statSync(file).mtimeMs !== before) {
        await delay(50);
        return;
      }
      await delay(20);
    }
    throw new Error('mosquitto did not save its persistence file');
  }

  async stop(): Promise<void> {
    this.child?.kill('SIGCONT');
    await this.signal('SIGTERM');
  }

  /** SIGSTOP: the broker hangs (connections stay open, nothing is read or answered). */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  /** SIGCONT after freeze(). */
  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(sig);
    await exited;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
