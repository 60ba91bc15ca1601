import { defaultExec, discoverCameras } from '../camera/discover.js';
import { findInPath } from '../camera/tools.js';
import { type Command, formatTable, parseCommandArgs, writeJson } from './command.js';

function summarizeFormats(
  formats: { format: string; sizes: string[]; fps?: Record<string, number[]> }[],
): string {
  return formats
    .filter((f) => f.sizes.length > 0)
    .map((f) => {
      const largest = f.sizes[0] ?? '';
      const rates = f.fps?.[largest];
      const more = f.sizes.length > 1 ? ` +${f.sizes.length - 1} sizes` : '';
      return `${f.format} ${largest}${rates?.length ? `@${Math.max(...rates)}` : ''}${more}`;
    })
    .join(', ');
}

export const camerasCommand: Command = {
  name: 'cameras',
  summary: 'List the cameras this machine can use (V4L2 devices with formats, Pi and Jetson CSI)',
  usage: 'edge-agent cameras [--json] [--root DIR]',
  async run(ctx) {
    const { values } = parseCommandArgs(this, ctx.argv, {
      json: { type: 'boolean' },
      root: { type: 'string' },
    });
    const discovery = await discoverCameras({
      root: values.root ?? '/',
      lookup: (name) => findInPath(name, ctx.env.PATH),
      exec: defaultExec,
    });
    if (values.json) {
      writeJson(ctx.stdout, discovery);
      return 0;
    }
    const { cameras, tools, problems } = discovery;
    if (cameras.length === 0) {
      ctx.stdout.write('no cameras found (no /dev/video* device, no Pi or Jetson CSI camera)\n');
      ctx.stdout.write('without a camera, use camera.source "images:DIR", "file:VIDEO" or "synthetic"\n');
    } else {
      const rows = cameras.map((c) => [
        c.source,
        c.name,
        summarizeFormats(c.formats) || '-',
        c.notes.join('; '),
      ]);
      ctx.stdout.write(`${formatTable(['source', 'name', 'formats', 'notes'], rows)}\n`);
    }
    const present = Object.entries(tools)
      .map(([name, where]) => `${name} ${where ? 'yes' : 'no'}`)
      .join(', ');
    ctx.stdout.write(`tools: ${present}\n`);
    for (const p of problems) ctx.stderr.write(`warning: ${p}\n`);
    return 0;
  },
};
