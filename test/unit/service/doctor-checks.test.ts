import { describe, expect, it } from 'vitest';
import {
  checkCamera,
  checkClock,
  checkDisk,
  checkFfmpeg,
  checkMemory,
  checkService,
  checkThrottling,
  exitCodeOf,
} from '../../../src/service/doctor-checks.js';

const camera = { videoDevices: [], serviceUser: 'edge-agent', tools: {} };
const pi = (raw: string, flags: Record<string, boolean>) => ({
  zones: [],
  throttling: {
    active: false,
    reasons: [],
    frequencyCapped: false,
    raspberryPi: {
      raw,
      underVoltageNow: false,
      frequencyCappedNow: false,
      throttledNow: false,
      softTempLimitNow: false,
      underVoltageSinceBoot: false,
      frequencyCappedSinceBoot: false,
      throttledSinceBoot: false,
      softTempLimitSinceBoot: false,
      ...flags,
    },
  },
});

describe('doctor checks (pure)', () => {
  it('exit code: 0 all ok, 1 warnings, 2 any failure', () => {
    const r = (status: 'ok' | 'warn' | 'fail') => ({ id: 'x', status, summary: '' });
    expect(exitCodeOf([r('ok'), r('ok')])).toBe(0);
    expect(exitCodeOf([r('ok'), r('warn')])).toBe(1);
    expect(exitCodeOf([r('warn'), r('fail'), r('ok')])).toBe(2);
  });

  it.each([
    [
      { source: 'v4l2:/dev/video0', device: { exists: false, readableByServiceUser: undefined } },
      'fail',
      /not found/,
    ],
    [
      { source: 'v4l2:/dev/video0', device: { exists: true, readableByServiceUser: false, group: 'video' } },
      'fail',
      /not readable by edge-agent/,
    ],
    [
      { source: 'v4l2:/dev/video0', device: { exists: true, readableByServiceUser: true } },
      'ok',
      /present and readable/,
    ],
    [{ source: 'images:/opt/edge-agent/samples' }, 'warn', /^no camera: the agent runs on images:/],
    [{ source: 'images:/x', videoDevices: ['/dev/video0'] }, 'warn', /attached: \/dev\/video0/],
    [{ source: 'libcamera' }, 'fail', /rpicam-vid not found/],
    [{ source: 'rtsp://user:secret@cam/s' }, 'ok', /^rtsp:\/\/\[redacted\]@cam\/s/],
  ])('camera %j -> %s', (inputs, status, summary) => {
    const r = checkCamera({ ...camera, ...inputs });
    expect(r.status).toBe(status);
    expect(r.summary).toMatch(summary);
    if (status !== 'ok') expect(r.fix).toBeTruthy();
  });

  it('a missing camera device user group gives the usermod fix', () => {
    const r = checkCamera({
      ...camera,
      source: 'v4l2:/dev/video0',
      device: { exists: true, readableByServiceUser: false, group: 'video' },
    });
    expect(r.fix).toMatch(/^sudo usermod -aG video edge-agent/);
  });

  it('ffmpeg: a failure only when the source needs it', () => {
    expect(checkFfmpeg(undefined, 'v4l2:/dev/video0').status).toBe('fail');
    expect(checkFfmpeg(undefined, 'images:/x').status).toBe('warn');
    expect(checkFfmpeg('ffmpeg version 5.1', 'v4l2:/dev/video0').status).toBe('ok');
  });

  it('clock, disk and memory thresholds', () => {
    expect(checkClock('yes', false).status).toBe('ok');
    expect(checkClock('no', false).status).toBe('warn');
    expect(checkClock(undefined, true).status).toBe('ok');
    expect(checkClock(undefined, false).status).toBe('warn');
    const storage = (availableBytes: number) => ({
      path: '/',
      totalBytes: 1e10,
      freeBytes: availableBytes,
      availableBytes,
    });
    expect(checkDisk('/var/lib/edge-agent', storage(50e6)).status).toBe('fail');
    expect(checkDisk('/var/lib/edge-agent', storage(500e6)).status).toBe('warn');
    expect(checkDisk('/var/lib/edge-agent', storage(5e9)).status).toBe('ok');
    const memory = (budget: number, available: number) => ({
      totalBytes: budget,
      availableBytes: available,
      swapTotalBytes: 0,
      swapFreeBytes: 0,
      effectiveBudgetBytes: budget,
      effectiveAvailableBytes: available,
    });
    expect(checkMemory('m', 100e6, memory(400e6, 300e6)).status).toBe('fail'); // needs 450 MB
    expect(checkMemory('m', 10e6, memory(4e9, 150e6)).status).toBe('warn'); // 180 MB > 150 MB free
    // Short of memory either way: the lean runtime is named among the fixes; not when it fits.
    expect(checkMemory('m', 100e6, memory(400e6, 300e6)).fix).toContain('EDGE_AGENT_LEAN=1');
    expect(checkMemory('m', 10e6, memory(4e9, 150e6)).fix).toContain('EDGE_AGENT_LEAN=1');
    expect(checkMemory('m', 10e6, memory(4e9, 4e9)).fix).toBeUndefined();
    expect(checkMemory('m', 10e6, memory(4e9, 2e9)).status).toBe('ok');
  });

  it('throttling on a Pi: under-voltage now fails, since boot warns', () => {
    expect(checkThrottling(pi('0x50005', { underVoltageNow: true, throttledNow: true })).status).toBe('fail');
    expect(
      checkThrottling(pi('0x50000', { underVoltageSinceBoot: true, throttledSinceBoot: true })).summary,
    ).toBe('under-voltage since boot (throttled=0x50000)');
    expect(checkThrottling(pi('0x0', {})).status).toBe('ok');
  });

  it.each([
    [{ active: 'active', enabled: 'enabled', container: false }, 'ok'],
    [{ active: 'active', enabled: 'disabled', container: false }, 'warn'],
    [{ active: 'failed', enabled: 'enabled', container: false }, 'fail'],
    [{ active: 'inactive', enabled: 'not-found', container: false }, 'warn'],
    [{ active: undefined, enabled: undefined, container: true, containerRuntime: 'docker' }, 'ok'],
    [{ active: undefined, enabled: undefined, container: false }, 'warn'],
  ])('service %j -> %s', (inputs, status) => {
    expect(checkService(inputs).status).toBe(status);
  });
});
