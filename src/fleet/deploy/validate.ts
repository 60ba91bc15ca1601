import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errorMessage } from '../../errors.js';
import { DeployError } from './errors.js';
import type { DeployManifest } from './manifest.js';

export interface ValidationResult {
  outputs: Array<{ name: string; shape: number[] }>;
  loadMs: number;
  inferenceMs: number;
}

export interface ValidateOptions {
  /** Killed (SIGKILL) when not done by then. */
  timeoutMs: number;
  /** V8 heap cap of the child; onnxruntime's native memory is bounded by the time limit and the OOM killer. */
  maxHeapMB: number;
  signal?: AbortSignal;
}

function childEntry(): { script: string; execArgv: string[] } {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const js = path.join(dir, 'validate-child.js');
  if (existsSync(js)) return { script: js, execArgv: [] };
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { script: path.join(dir, 'validate-child.ts'), execArgv: ['--import', loader] };
}

/**
 * Loads and runs the candidate once in a child process. A model that crashes or hangs
 * onnxruntime kills the child (reported), never the agent.
 */
export function validateInChild(file: string, options: ValidateOptions): Promise<ValidationResult> {
  const { script, execArgv } = childEntry();
  return new Promise((resolve, reject) => {
    let child: ReturnType<typeof fork>;
    try {
      child = fork(script, [], {
        execArgv: [...execArgv, `--max-old-space-size=${options.maxHeapMB}`],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
    } catch (err) {
      reject(new DeployError('validate', `cannot start the validation process: ${errorMessage(err)}`));
      return;
    }
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    let outcome: { ok: ValidationResult } | { error: string } | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    const onAbort = () => child.kill('SIGKILL');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on(
      'message',
      (m: { type: 'result'; result: ValidationResult } | { type: 'error'; message: string }) => {
        outcome = m.type === 'result' ? { ok: m.result } : { error: m.message };
      },
    );
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (outcome && 'ok' in outcome) return resolve(outcome.ok);
      if (outcome)
        return reject(new DeployError('validate', `onnxruntime refused the model: ${outcome.error}`));
      if (timedOut)
        return reject(new DeployError('validate', `not loaded and run within ${options.timeoutMs} ms`));
      const last = stderr.trim().split('\n').at(-1);
      reject(
        new DeployError(
          'validate',
          `the validation process ${signal ? `was killed (${signal})` : `exited with code ${code}`}${last ? ` (${last.slice(0, 300)})` : ''}`,
        ),
      );
    });
    child.send({ type: 'validate', file });
  });
}

/** Output names and shapes against the manifest (null = any size). Pure; undefined when they match. */
export function outputMismatch(
  actual: ValidationResult['outputs'],
  expected: DeployManifest['outputs'],
): string | undefined {
  for (const e of expected) {
    const a = actual.find((o) => o.name === e.name);
    if (!a) return `output "${e.name}" missing (model has ${actual.map((o) => o.name).join(', ')})`;
    const fits = a.shape.length === e.shape.length && e.shape.every((d, i) => d === null || d === a.shape[i]);
    if (!fits)
      return `output "${e.name}" has shape [${a.shape.join(', ')}], manifest expects [${e.shape.map((d) => d ?? '?').join(', ')}]`;
  }
  return undefined;
}
