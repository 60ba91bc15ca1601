import { describe, expect, it } from 'vitest';
import { findInPath, requireTool, ToolMissingError } from '../../../src/camera/tools.js';

describe('findInPath', () => {
  it('returns the first executable along PATH, like command -v', () => {
    const executables = new Set(['/opt/bin/ffmpeg', '/usr/bin/ffmpeg']);
    expect(findInPath('ffmpeg', '/usr/local/bin:/opt/bin:/usr/bin', (f) => executables.has(f))).toBe(
      '/opt/bin/ffmpeg',
    );
    expect(findInPath('rpicam-vid', '/usr/bin', (f) => executables.has(f))).toBeUndefined();
    expect(findInPath('/usr/bin/ffmpeg', '', (f) => executables.has(f))).toBe('/usr/bin/ffmpeg');
  });
});

describe('requireTool', () => {
  it('takes the first alternative found', () => {
    expect(
      requireTool(['rpicam-vid', 'libcamera-vid'], 'x', (n) =>
        n === 'libcamera-vid' ? '/bin/libcamera-vid' : undefined,
      ),
    ).toBe('/bin/libcamera-vid');
  });

  it.each([
    ['ffmpeg', 'apt-get install -y ffmpeg'],
    ['rpicam-vid', 'rpicam-apps'],
    ['gst-launch-1.0', 'gstreamer1.0-tools'],
  ])('a missing %s names the package to install', (tool, hint) => {
    const err = (() => {
      try {
        requireTool([tool], 'camera source v4l2:/dev/video0', () => undefined);
      } catch (e) {
        return e as ToolMissingError;
      }
    })();
    expect(err).toBeInstanceOf(ToolMissingError);
    expect(err!.message).toContain(`${tool} not found in PATH`);
    expect(err!.message).toContain(hint);
    expect(err!.message).toContain('camera source v4l2:/dev/video0');
  });
});
