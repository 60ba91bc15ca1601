import { describe, expect, it } from 'vitest';
import {
  assertRemoteCameraHost,
  ForbiddenError,
  forbiddenChanges,
  isRemoteSafeSource,
} from '../../../src/config/protected-keys.js';
import {
  blockedAddressReason,
  cameraUrlHost,
  remoteCameraHostProblem,
  remoteCameraUrlProblem,
} from '../../../src/config/source-policy.js';

describe('camera URLs a remote set-config may not select (SSRF into the device)', () => {
  it.each([
    ['http://127.0.0.1:8080/api/snapshot.jpg', /loopback/],
    ['rtsp://127.0.1.1/stream', /loopback/],
    ['http://localhost:1883/', /this device/],
    ['rtsp://LOCALHOST./x', /this device/],
    ['http://cam.localhost/x', /this device/],
    ['http://[::1]:8080/', /loopback/],
    ['rtsp://[::ffff:127.0.0.1]/x', /loopback address \(inside IPv6\)/],
    ['http://[::ffff:7f00:1]/x', /loopback/],
    ['http://[64:ff9b::a9fe:a9fe]/x', /link-local/],
    ['http://0.0.0.0:8080/', /unspecified/],
    ['http://[::]:8080/', /unspecified/],
    ['http://169.254.169.254/latest/meta-data/', /link-local/],
    ['http://[fe80::1%25eth0]/x', /link-local/],
    ['http://[fd00:ec2::254]/latest/meta-data/', /metadata/],
    ['http://100.100.100.200/latest/meta-data/', /metadata/],
    ['http://metadata.google.internal/computeMetadata/v1/', /metadata/],
    // IPv4 forms inet_aton (and so ffmpeg) accepts: the WHATWG parser normalises them.
    ['http://2130706433/', /127\.0\.0\.1 is a loopback/],
    ['rtsp://0x7f.1/x', /127\.0\.0\.1 is a loopback/],
    ['http://127.1:8080/', /loopback/],
    ['rtsp://0177.0.0.1/x', /loopback/],
    // Parsers disagree about these: refused rather than guessed.
    ['http://evil.example\\@127.0.0.1/', /ambiguous/],
    ['http://a@b@127.0.0.1/', /ambiguous/],
    ['rtsp://user:pass@127.0.0.1:554/h264', /loopback/],
  ])('%s is refused', (url, why) => {
    expect(isRemoteSafeSource(url)).toBe(false);
    expect(remoteCameraUrlProblem(url)).toMatch(why);
  });

  it.each([
    'rtsp://192.168.1.50:554/stream1',
    'rtsp://admin:secret@10.0.0.5/h264',
    'http://172.16.4.2/video.mjpg',
    'https://cam.example.com/live.m3u8',
    'rtsps://[2001:db8::5]/x',
    'http://100.64.1.2/x',
  ])('%s is allowed', (url) => {
    expect(isRemoteSafeSource(url)).toBe(true);
    expect(remoteCameraUrlProblem(url)).toBeUndefined();
  });

  it('takes the host after the last @ and before the first / ? #', () => {
    expect(cameraUrlHost('rtsp://u:p@Cam.Example:554/a?b#c')).toEqual({ host: 'cam.example' });
    expect(cameraUrlHost('http://10.0.0.1?x=@127.0.0.1')).toEqual({ host: '10.0.0.1' });
  });

  it('classifies bare addresses', () => {
    expect(blockedAddressReason('127.0.0.53')).toMatch(/loopback/);
    expect(blockedAddressReason('192.168.0.1')).toBeUndefined();
    expect(blockedAddressReason('2001:db8::1')).toBeUndefined();
    expect(blockedAddressReason('fe80::abcd')).toMatch(/link-local/);
  });

  it('the forbidden answer names the host and the rule', () => {
    expect(forbiddenChanges({ camera: { source: 'http://169.254.169.254/' } })).toEqual([
      { key: 'camera.source', reason: expect.stringMatching(/^host 169\.254\.169\.254 is a link-local/) },
    ]);
    // A whole camera section replaced: the same rule for the source inside it.
    expect(forbiddenChanges({ camera: { source: 'rtsp://[::1]/x', fps: 2 } }).map((f) => f.key)).toEqual([
      'camera.source',
    ]);
  });
});

describe('camera host names that resolve to a refused address', () => {
  const resolver = (table: Record<string, string[]>) => async (host: string) => {
    const addresses = table[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address }));
  };
  const lookup = resolver({
    '127.0.0.1.nip.io': ['127.0.0.1'],
    'rebind.example': ['203.0.113.7', '169.254.169.254'],
    'cam.example': ['192.168.1.50', 'fd12::5'],
  });

  it('refuses a name resolving to loopback or link-local (any of its addresses)', async () => {
    expect(await remoteCameraHostProblem('rtsp://127.0.0.1.nip.io/x', lookup)).toMatch(
      /127\.0\.0\.1\.nip\.io resolves to 127\.0\.0\.1, a loopback address/,
    );
    expect(await remoteCameraHostProblem('http://rebind.example/x', lookup)).toMatch(/169\.254\.169\.254/);
    await expect(
      assertRemoteCameraHost({ camera: { source: 'http://rebind.example/x' } }, lookup),
    ).rejects.toThrow(ForbiddenError);
  });

  it('allows a name resolving to LAN addresses; refuses one that does not resolve', async () => {
    expect(await remoteCameraHostProblem('rtsp://cam.example/x', lookup)).toBeUndefined();
    await expect(
      assertRemoteCameraHost({ camera: { source: 'rtsp://cam.example/x' } }, lookup),
    ).resolves.toBe(undefined);
    expect(await remoteCameraHostProblem('rtsp://nowhere.example/x', lookup)).toMatch(
      /cannot be resolved to check it \(getaddrinfo ENOTFOUND/,
    );
  });

  it('a lookup that never answers is cut after its timeout', async () => {
    const hang = () => new Promise<never>(() => undefined);
    expect(await remoteCameraHostProblem('rtsp://slow.example/x', hang, 20)).toMatch(/no answer in 20 ms/);
  });

  it('leaves patches without a network camera source alone', async () => {
    const never = async () => {
      throw new Error('must not be called');
    };
    await expect(assertRemoteCameraHost({ camera: { fps: 3 } }, never)).resolves.toBe(undefined);
    await expect(assertRemoteCameraHost({ camera: { source: 'synthetic' } }, never)).resolves.toBe(undefined);
    await expect(assertRemoteCameraHost({ camera: { source: 'rtsp://10.0.0.9/x' } }, never)).resolves.toBe(
      undefined,
    );
  });
});
