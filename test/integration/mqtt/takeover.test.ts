import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentProcess } from '../../helpers/agent-process.js';
import { runCli } from '../../helpers/cli.js';
import { freePort } from '../../helpers/mosquitto.js';
import { Observer, request, waitUntil } from './support.js';

/**
 * Issue 12 items 1 and 6 against a real agent whose embedded broker listens beyond loopback:
 * generated credentials (0600), anonymous clients refused, security-relevant keys refused over
 * MQTT, derive paths confined, oversized packets cut off before they are buffered.
 */
const P = 'edge-agent';
const ID = 'takeover-1';

function peakRssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

function tryConnect(url: string, options: mqtt.IClientOptions): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, {
      reconnectPeriod: 0,
      protocolVersion: 4,
      connectTimeout: 5000,
      ...options,
    });
    client.once('connect', () => {
      client.end(true);
      resolve({ ok: true });
    });
    client.once('error', (err) => {
      client.end(true);
      resolve({ ok: false, error: err.message });
    });
    client.once('close', () => resolve({ ok: false, error: 'closed' }));
  });
}

describe('an agent whose embedded broker listens on the LAN', { timeout: 90_000 }, () => {
  let agent: AgentProcess;
  let url: string;
  let operator: Observer;
  let credentials: { username: string; password: string };

  beforeAll(async () => {
    const port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    agent = AgentProcess.start({
      deviceId: ID,
      mqtt: { url: 'embedded', embedded: { host: '0.0.0.0', port, maxMessageBytes: 1024 * 1024 } },
    });
    await agent.waitFor((l) => l.msg === 'mqtt connected', 60_000);
    const file = path.join(agent.dataDir, 'embedded-broker-credentials.json');
    credentials = JSON.parse(readFileSync(file, 'utf8')) as typeof credentials;
    operator = await Observer.connect(url, { protocolVersion: 4, ...credentials }, [
      `${P}/${ID}/availability`,
    ]);
  }, 90_000);

  afterAll(async () => {
    await operator?.close();
    agent?.kill();
  });

  it('generated a username/password stored with mode 0600, and the agent uses it', async () => {
    const file = path.join(agent.dataDir, 'embedded-broker-credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(credentials.password.length).toBeGreaterThanOrEqual(16);
    await waitUntil(
      () => operator.on(`${P}/${ID}/availability`).at(-1)?.payload.toString() === 'online',
      10_000,
    );
    // The password never reaches the log.
    expect(JSON.stringify(agent.lines)).not.toContain(credentials.password);
  });

  it('the fleet CLI on the device connects with the stored pair (same config)', async () => {
    const r = await runCli(['fleet', 'send', ID, 'ping', '--config', agent.configFile], { cwd: agent.dir });
    expect(r.stdout + r.stderr).toContain('pong');
    expect(r.code).toBe(0);
  });

  it('refuses anonymous clients and wrong passwords', async () => {
    expect(await tryConnect(url, {})).toMatchObject({ ok: false });
    expect(
      await tryConnect(url, { username: credentials.username, password: 'wrong-password-123' }),
    ).toMatchObject({
      ok: false,
    });
    expect(await tryConnect(url, credentials)).toEqual({ ok: true });
  });

  it('refuses set-config of security-relevant keys with a forbidden error naming the key; the file is unchanged', async () => {
    const before = readFileSync(agent.configFile, 'utf8');
    const attempts: Array<[Record<string, unknown>, string]> = [
      [{ http: { token: 'attacker-chosen-token-123' } }, 'http.token'],
      [{ http: { host: '0.0.0.0' } }, 'http.host'],
      [{ mqtt: { url: 'mqtt://evil.example:1883' } }, 'mqtt'],
      [{ dataDir: '/tmp' }, 'dataDir'],
      [{ models: { dir: '/home' } }, 'models.dir'],
      [{ camera: { source: 'images:/etc' } }, 'camera.source'],
    ];
    for (const [patch, key] of attempts) {
      const answer = await request(operator, P, ID, 'set-config', { patch });
      expect(answer).toMatchObject({ status: 'error' });
      expect(answer.error).toMatch(/^forbidden: /);
      expect(answer.error).toContain(key);
    }
    expect(readFileSync(agent.configFile, 'utf8')).toBe(before);
    // Harmless keys still change.
    const ok = await request(operator, P, ID, 'set-config', { patch: { camera: { fps: 3 } } });
    expect(ok).toMatchObject({ status: 'ok', data: { changed: ['camera.fps'] } });
  });

  it('confines derive calibration folders to the data directory, without telling what exists outside', async () => {
    const derive = (calibration: string) =>
      request(operator, P, ID, 'derive', { method: 'int8-static', options: { calibration } }, 20_000);
    const outsideExisting = await derive('/etc');
    const outsideMissing = await derive('/no/such/folder-4711');
    const escaping = await derive('../../../../etc');
    expect(outsideExisting).toMatchObject({ status: 'error' });
    expect(outsideExisting.error).toBe(outsideMissing.error);
    expect(escaping.error).toBe(outsideMissing.error);
    expect(outsideExisting.error).toMatch(/inside the data directory/);
    // Inside the data directory the folder is used (here it is empty: a frames error, not a refusal).
    mkdirSync(path.join(agent.dataDir, 'calib'), { recursive: true });
    const inside = await derive('calib');
    expect(inside.error).not.toBe(outsideMissing.error);
  });

  it('closes a connection announcing a packet over maxMessageBytes before buffering it', async () => {
    const spy = await Observer.connect(url, { protocolVersion: 4, ...credentials }, [`${P}/${ID}/request/#`]);
    const pid = agent.child.pid!;
    const peakBefore = peakRssKb(pid);
    const big = mqtt.connect(url, { reconnectPeriod: 0, protocolVersion: 4, ...credentials });
    await new Promise<void>((resolve) => big.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => big.once('close', () => resolve()));
    big.publish(`${P}/${ID}/request/ping`, Buffer.alloc(50 * 1024 * 1024, 0x20), { qos: 0 });
    await closed;
    big.end(true);
    await new Promise((r) => setTimeout(r, 500));
    const grownMb = (peakRssKb(pid) - peakBefore) / 1024;
    expect(spy.messages).toEqual([]);
    expect(grownMb).toBeLessThan(25);
    expect(agent.lines.some((l) => l.msg === 'MQTT packet over the size limit: connection closed')).toBe(
      true,
    );
    // The agent still answers.
    expect(await request(operator, P, ID, 'ping')).toMatchObject({ status: 'ok' });
    await spy.close();
  });
});
