import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the bundled models and sample frames come from when a config names them by their default
 * relative paths. The shipped agent.config.json says `models.dir: "./models"` and
 * `camera.source: "images:./samples"`; a copy of it in /etc/edge-agent/ has no models/ beside it,
 * so those defaults mean "the package's own folders" unless the config's folder really has one
 * (a user's own ./models next to their config wins). Every other relative path is the user's and
 * resolves against the config's folder.
 */

/** Values that name the bundled models folder. */
const BUNDLED_MODELS = new Set(['./models', 'models', './models/', 'models/']);
/** Values that name the bundled sample frames as a camera source. */
const BUNDLED_SAMPLES = new Set([
  'images:./samples',
  'images:samples',
  'images:./samples/',
  'images:samples/',
]);

export interface BundledDeps {
  /** The package root (folder of package.json, models/, samples/). */
  packageRoot: string;
  exists?: (p: string) => boolean;
}

function against(baseDir: string, p: string): string {
  return path.isAbsolute(p) ? p : path.resolve(baseDir, p);
}

/**
 * models.dir: unset -> the package's models; the bundled default -> the config folder's models/
 * if it exists there, else the package's; anything else -> against the config's folder.
 */
export function resolveModelsDir(value: string | undefined, baseDir: string, deps: BundledDeps): string {
  const exists = deps.exists ?? existsSync;
  const bundled = path.join(deps.packageRoot, 'models');
  if (value === undefined) return bundled;
  if (BUNDLED_MODELS.has(value)) {
    const local = against(baseDir, value);
    return exists(local) ? local : bundled;
  }
  return against(baseDir, value);
}

/**
 * camera.source: unset -> the package's samples; `images:./samples` -> the config folder's
 * samples/ if it exists, else the package's; other `images:`/`file:` paths -> against the config's
 * folder; device and network sources unchanged.
 */
export function resolveCameraSource(value: string | undefined, baseDir: string, deps: BundledDeps): string {
  const exists = deps.exists ?? existsSync;
  const bundled = `images:${path.join(deps.packageRoot, 'samples')}`;
  if (value === undefined) return bundled;
  if (BUNDLED_SAMPLES.has(value)) {
    const local = against(baseDir, value.slice('images:'.length));
    return exists(local) ? `images:${local}` : bundled;
  }
  const match = /^(images|file):(.+)$/.exec(value);
  if (!match) return value;
  return `${match[1]}:${against(baseDir, match[2]!)}`;
}
