import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { EdgeAgentError } from '../errors.js';

/** A capture tool is not installed; the message names the package that provides it. */
export class ToolMissingError extends EdgeAgentError {
  override name = 'ToolMissingError';
  constructor(
    readonly tool: string,
    readonly install: string,
    purpose: string,
  ) {
    super(`${tool} not found in PATH (needed for ${purpose}); install it: ${install}`);
  }
}

/** Where each tool comes from, for the error message. */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  ffmpeg: 'sudo apt-get install -y ffmpeg',
  'rpicam-vid':
    'sudo apt-get install -y rpicam-apps (Raspberry Pi OS bookworm; older images ship libcamera-apps)',
  'libcamera-vid': 'sudo apt-get install -y libcamera-apps',
  'gst-launch-1.0':
    'sudo apt-get install -y gstreamer1.0-tools (nvarguscamerasrc comes with JetPack: nvidia-l4t-gstreamer)',
  'gst-inspect-1.0': 'sudo apt-get install -y gstreamer1.0-tools',
  'v4l2-ctl': 'sudo apt-get install -y v4l-utils',
};

export type ToolLookup = (name: string) => string | undefined;

/** Finds an executable in PATH like `command -v`; `isExecutable` is injectable for tests. */
export function findInPath(
  name: string,
  pathEnv: string | undefined = process.env.PATH,
  isExecutable: (file: string) => boolean = defaultIsExecutable,
): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of (pathEnv ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function defaultIsExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The path of the first tool found among `names`, or a ToolMissingError for the first name. */
export function requireTool(names: readonly string[], purpose: string, lookup: ToolLookup): string {
  for (const name of names) {
    const found = lookup(name);
    if (found) return found;
  }
  const first = names[0]!;
  throw new ToolMissingError(first, TOOL_PACKAGES[first] ?? `install ${first}`, purpose);
}
