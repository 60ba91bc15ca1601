import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { naturalCompare } from '../collate.js';
import { errorMessage } from '../errors.js';

/**
 * The device as the hardware readers see it: files under a root (`/` on a device, a fixture tree in
 * tests and `edge-agent profile --root DIR`) and a few external commands. Readers never touch `fs` or
 * `child_process` themselves, so the same code reads a live board and a captured one.
 */

/** A file's text, or why there is none. Absence is normal on most boards: never an exception. */
export type ReadResult = { ok: true; text: string } | { ok: false; reason: string };

/** One external command the readers may run, with the key its captured output is stored under. */
export interface CommandSpec {
  /** File name (without `.txt`) of the captured output under `<root>/.commands/`. */
  key: string;
  file: string;
  args: readonly string[];
}

export type ExecResult = { ok: true; stdout: string } | { ok: false; reason: string; missing: boolean };

/** Runs a command with a timeout; never throws (a missing command is a normal result). */
export type Exec = (command: CommandSpec, timeoutMs: number) => Promise<ExecResult>;

/** Every command the profiler and sampler know. Keys name the captured files of fixture trees. */
export const COMMANDS = {
  vcgencmdThrottled: { key: 'vcgencmd_get_throttled', file: 'vcgencmd', args: ['get_throttled'] },
  vcgencmdPmic: { key: 'vcgencmd_pmic_read_adc', file: 'vcgencmd', args: ['pmic_read_adc'] },
  nvpmodel: { key: 'nvpmodel_q', file: 'nvpmodel', args: ['-q'] },
  nvidiaSmi: {
    key: 'nvidia-smi_query-gpu',
    file: 'nvidia-smi',
    args: [
      '--query-gpu=name,memory.total,memory.free,driver_version,compute_cap,power.draw,temperature.gpu,utilization.gpu',
      '--format=csv,noheader,nounits',
    ],
  },
} as const satisfies Record<string, CommandSpec>;

export interface Host {
  /** `/` for the live device, or the fixture tree. */
  readonly root: string;
  readonly live: boolean;
  readText(file: string): Promise<ReadResult>;
  /** Entry names of a folder, sorted; an empty list when it is absent. */
  list(dir: string): Promise<string[]>;
  exists(file: string): Promise<boolean>;
  exec(command: CommandSpec): Promise<ExecResult>;
  /** The absolute path of a device path on this machine's filesystem. */
  resolve(file: string): string;
}

export interface HostOptions {
  root?: string;
  /** Defaults to running real commands for `/` and reading captured outputs for any other root. */
  exec?: Exec;
  /** Per-command timeout; 2 s is ample for vcgencmd/nvpmodel, nvidia-smi can take ~1 s cold. */
  commandTimeoutMs?: number;
}

export function createHost(options: HostOptions = {}): Host {
  const root = path.resolve(options.root ?? '/');
  const live = root === '/';
  const exec = options.exec ?? (live ? runCommand : capturedCommands(root));
  const timeoutMs = options.commandTimeoutMs ?? 2000;
  const resolve = (file: string) => path.join(root, file);
  return {
    root,
    live,
    resolve,
    async readText(file) {
      try {
        return { ok: true, text: await readFile(resolve(file), 'utf8') };
      } catch (err) {
        return { ok: false, reason: `${file}: ${describeFsError(err)}` };
      }
    },
    async list(dir) {
      try {
        return (await readdir(resolve(dir))).sort(naturalCompare);
      } catch {
        // An absent folder (no thermal zones, no batteries) is a normal, empty answer.
        return [];
      }
    },
    async exists(file) {
      return stat(resolve(file)).then(
        () => true,
        () => false,
      );
    },
    exec: (command) => exec(command, timeoutMs),
  };
}

/** Real commands, with a timeout; ENOENT means "not installed on this board" and is normal. */
export const runCommand: Exec = (command, timeoutMs) =>
  new Promise((resolve) => {
    execFile(
      command.file,
      [...command.args],
      { timeout: timeoutMs, maxBuffer: 1 << 20, encoding: 'utf8', killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ ok: true, stdout });
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT')
          return resolve({ ok: false, missing: true, reason: `${command.file}: not installed` });
        const killed = (err as { killed?: boolean }).killed;
        const reason = killed
          ? `${command.file}: timed out after ${timeoutMs} ms`
          : `${command.file} ${command.args.join(' ')}: ${stderr.trim() || errorMessage(err)}`;
        resolve({ ok: false, missing: false, reason });
      },
    );
  });

/**
 * Captured outputs of a fixture tree: `<root>/.commands/<key>.txt` is what the command printed on
 * the real board; no file means the command is not installed there.
 */
export function capturedCommands(root: string): Exec {
  return async (command) => {
    const file = path.join(root, '.commands', `${command.key}.txt`);
    try {
      return { ok: true, stdout: await readFile(file, 'utf8') };
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      return {
        ok: false,
        missing,
        reason: missing ? `${command.file}: not installed` : `${file}: ${describeFsError(err)}`,
      };
    }
  };
}

export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'absent';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a folder';
  return errorMessage(err);
}

/** Trims a sysfs value; device-tree strings end with NUL bytes. */
export function cleanText(text: string): string {
  return text.replace(/\0+$/g, '').trim();
}

/** A sysfs integer (`"1500000\n"`), or undefined for empty/garbled text. */
export function parseIntText(text: string): number | undefined {
  const t = cleanText(text);
  if (!/^-?\d+$/.test(t)) return undefined;
  return Number(t);
}

/** Reads an integer file; undefined when absent or not a number. */
export async function readInt(host: Host, file: string): Promise<number | undefined> {
  const r = await host.readText(file);
  return r.ok ? parseIntText(r.text) : undefined;
}

export async function readString(host: Host, file: string): Promise<string | undefined> {
  const r = await host.readText(file);
  if (!r.ok) return undefined;
  const t = cleanText(r.text);
  return t === '' ? undefined : t;
}
