import { realpathSync } from 'node:fs';
import path from 'node:path';
import { DerivationError } from '../errors.js';

export interface CalibrationRoots {
  dataDir: string;
  /** The bundled sample photos. */
  samplesDir: string;
}

const within = (child: string, parent: string) => {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

function real(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

/**
 * The folder a remote `derive` may read calibration / evaluation frames from: inside the data
 * directory (relative paths are relative to it) or the bundled samples, after resolving symbolic
 * links. Anything else gets one and the same error whether it exists or not, so the command
 * cannot be used to probe the device's filesystem.
 */
export function confineCalibrationDir(value: unknown, roots: CalibrationRoots): string {
  const refused = new DerivationError(
    'options.calibration: "camera", "samples" or a folder inside the data directory',
  );
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024 || value.includes('\0'))
    throw refused;
  const dataDir = path.resolve(roots.dataDir);
  const samplesDir = path.resolve(roots.samplesDir);
  const wanted = path.resolve(dataDir, value);
  if (!within(wanted, dataDir) && !within(wanted, samplesDir)) throw refused;
  // A link inside the data directory must not lead outside it.
  const resolved = real(wanted);
  if (resolved === undefined) {
    throw new DerivationError(
      `options.calibration: no folder "${path.relative(dataDir, wanted) || '.'}" in the data directory`,
    );
  }
  const realRoots = [real(dataDir), real(samplesDir)].filter((r): r is string => r !== undefined);
  if (!realRoots.some((root) => within(resolved, root))) throw refused;
  return resolved;
}
