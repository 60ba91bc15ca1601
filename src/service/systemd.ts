import { execFile } from 'node:child_process';
import { isNoModel } from '../agent/no-model.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * systemd's notify protocol (Type=notify, WatchdogSec) for a process that cannot send unix
 * datagrams: Node has no AF_UNIX SOCK_DGRAM, and the npm packages that add one are native addons
 * built at install time. systemd-notify (in the systemd package on every systemd host) sends each
 * message; the unit sets NotifyAccess=all because the sender is that child, not the main PID. Since
 * systemd 246, systemd-notify waits until the manager has read the message (a barrier), so the
 * message is attributed to our unit even though its sender exits at once.
 *
 * Pings come from a timer on the event loop: an event loop blocked by a hung computation or a
 * deadlock sends none, systemd kills the process after WatchdogSec and Restart= starts it again.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** Runs `systemd-notify ARGS` with NOTIFY_SOCKET in env; rejects on failure. */
export type NotifyExec = (args: readonly string[], env: Env) => Promise<void>;

export const systemdNotifyExec: NotifyExec = (args, env) =>
  new Promise((resolve, reject) => {
    execFile('systemd-notify', [...args], { env: { ...env }, timeout: 5000 }, (err) =>
      err ? reject(err) : resolve(),
    );
  });

/**
 * How often to ping the watchdog: a third of WATCHDOG_USEC (systemd's advice is half; a third
 * leaves room for a slow fork on a loaded Pi), or undefined when no watchdog is asked of this
 * process (no WATCHDOG_USEC, or WATCHDOG_PID names another process). Pure.
 */
export function watchdogIntervalMs(env: Env, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(100, Math.floor(usec / 3000));
}

/** What readiness means for the agent: the first inference, or a camera that is down while we serve. Pure. */
export function servingState(
  stats: { counters: { processed: number }; camera: { state: string }; model?: { name: string } } | undefined,
): { ready: boolean; status: string } {
  if (!stats) return { ready: false, status: 'starting' };
  // No loadable model (agent/no-model.ts): HTTP and MQTT serve; inference waits for a model.
  if (isNoModel(stats.model)) return { ready: true, status: 'serving: no loadable model, retrying' };
  if (stats.counters.processed > 0) return { ready: true, status: 'serving: inferring' };
  if (stats.camera.state === 'offline') return { ready: true, status: 'serving: camera offline, retrying' };
  return { ready: false, status: `starting: camera ${stats.camera.state}` };
}

export interface ServiceNotifierDeps {
  env: Env;
  pid: number;
  log: Logger;
  exec?: NotifyExec;
  /** Polled until it says ready (every readyPollMs). */
  state: () => { ready: boolean; status: string };
  readyPollMs?: number;
}

/** Talks to systemd when started by it (NOTIFY_SOCKET set); does nothing otherwise. */
export class ServiceNotifier {
  readonly enabled: boolean;
  readonly watchdogMs: number | undefined;
  private readonly exec: NotifyExec;
  private timers: NodeJS.Timeout[] = [];
  private readyPoll: NodeJS.Timeout | undefined;
  private pingInFlight = false;
  private readySent = false;
  private stopped = false;
  private sent = 0;

  constructor(private readonly deps: ServiceNotifierDeps) {
    this.enabled = Boolean(deps.env.NOTIFY_SOCKET);
    this.watchdogMs = this.enabled ? watchdogIntervalMs(deps.env, deps.pid) : undefined;
    this.exec = deps.exec ?? systemdNotifyExec;
  }

  /** Starts the watchdog pings and the readiness poll; abort `signal` or call stop() to end them. */
  start(signal?: AbortSignal): void {
    if (!this.enabled) return;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    if (this.watchdogMs !== undefined) {
      const ping = setInterval(() => this.ping(), this.watchdogMs);
      this.timers.push(ping);
      this.ping();
    }
    this.readyPoll = setInterval(() => this.checkReady(), this.deps.readyPollMs ?? 500);
    this.checkReady();
  }

  /** Messages sent so far (for tests and logs). */
  get messagesSent(): number {
    return this.sent;
  }

  private checkReady(): void {
    if (this.readySent) return;
    const { ready, status } = this.deps.state();
    if (!ready) return;
    this.readySent = true;
    clearInterval(this.readyPoll);
    this.send([`--pid=${this.deps.pid}`, '--ready', `--status=${status}`], 'ready');
  }

  private ping(): void {
    // A ping still waiting for the manager is not doubled: pings only prove the loop turns.
    if (this.pingInFlight) return;
    this.pingInFlight = true;
    void this.send([`--pid=${this.deps.pid}`, 'WATCHDOG=1'], 'watchdog').finally(() => {
      this.pingInFlight = false;
    });
  }

  private async send(args: string[], what: string): Promise<void> {
    try {
      await this.exec(args, this.deps.env);
      this.sent++;
      if (what === 'ready') this.deps.log.info({ status: args.at(-1) }, 'told systemd: ready');
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), what }, 'systemd-notify failed');
    }
  }

  /** Tells systemd we are stopping and ends the timers. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearInterval(this.readyPoll);
    this.timers = [];
    if (this.enabled && this.readySent) {
      // Courtesy only: never holds up a SIGTERM exit by more than a second.
      let timer: NodeJS.Timeout | undefined;
      const giveUp = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000);
      });
      await Promise.race([this.send([`--pid=${this.deps.pid}`, 'STOPPING=1'], 'stopping'), giveUp]);
      clearTimeout(timer);
    }
  }
}
