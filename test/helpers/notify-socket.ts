import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { waitUntil } from './wait.js';

/**
 * A stand-in for systemd's notification socket: socat receives the unix datagrams that
 * systemd-notify sends (Node cannot open a SOCK_DGRAM unix socket) and prints them. Each datagram
 * is one message of `KEY=VALUE` lines; `messages` keeps them with their arrival time.
 */
export class NotifySocket {
  readonly messages: Array<{ atMs: number; text: string }> = [];
  private readonly proc: ChildProcess;

  private constructor(readonly path: string) {
    // -u: one direction; a datagram socket; fork + `cat; echo`: one child per datagram, so every
    // message ends with a newline (systemd-notify sends none at the end). socat keeps the file
    // descriptors passed with BARRIER=1, so senders must use --no-block here (see watchdog-child.ts).
    this.proc = spawn('socat', ['-u', `UNIX-RECVFROM:${path},unlink-early,fork`, 'SYSTEM:cat; echo'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.proc.stdout!.on('data', (chunk: Buffer) => {
      this.messages.push({ atMs: Date.now(), text: chunk.toString('utf8') });
    });
  }

  static async open(path: string): Promise<NotifySocket> {
    const socket = new NotifySocket(path);
    await waitUntil(
      () => existsSync(path),
      10_000,
      () => `socat listening on ${path}`,
    );
    return socket;
  }

  /** Arrival times of the datagrams that carry `line` (e.g. WATCHDOG=1). */
  times(line: string): number[] {
    // Two datagrams read in one chunk still count twice. socat's per-datagram children run side by
    // side, so one's `echo` may land after the next one's text ("WATCHDOG=1READY=1"): a known
    // notify key always starts a new line.
    return this.messages.flatMap((m) =>
      m.text
        .replace(/([^\n])(?=(?:MAINPID|READY|WATCHDOG|STATUS|STOPPING|RELOADING|BARRIER|ERRNO)=)/g, '$1\n')
        .split('\n')
        .filter((l) => l === line)
        .map(() => m.atMs),
    );
  }

  close(): void {
    this.proc.kill();
  }
}
