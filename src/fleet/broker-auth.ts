import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { AgentConfig } from '../config/index.js';
import { isLoopbackHost } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import * as z from '../zod.js';
import { BrokerStartError } from './embedded-broker.js';

/**
 * Credentials of the embedded broker. On loopback it may run without (only local processes reach
 * it); listening anywhere else it requires a username and password: `mqtt.username` /
 * `mqtt.password` from the config, else a pair generated on first run and kept in
 * `<dataDir>/embedded-broker-credentials.json` (mode 0600). The agent's own client uses the same
 * pair. When none can be had the broker refuses to start (the agent goes on without MQTT).
 */
export interface BrokerCredentials {
  username: string;
  password: string;
  /** Where they came from (logged; the password never is). */
  origin: 'config' | 'generated' | 'stored';
  file?: string;
}

export const CREDENTIALS_FILE = 'embedded-broker-credentials.json';

const storedSchema = z.strictObject({
  username: z.string().check(z.minLength(1), z.maxLength(256)),
  password: z.string().check(z.minLength(16), z.maxLength(1024)),
});

export interface BrokerAuthOptions {
  host: string;
  username?: string | undefined;
  password?: string | undefined;
  dataDir?: string | undefined;
  log: Logger;
}

export function resolveBrokerCredentials(options: BrokerAuthOptions): BrokerCredentials | undefined {
  const { host, username, password } = options;
  if ((username === undefined) !== (password === undefined) || username === '' || password === '') {
    throw new BrokerStartError(
      'embedded MQTT broker: set both mqtt.username and mqtt.password (non-empty), or neither',
    );
  }
  if (username !== undefined && password !== undefined) return { username, password, origin: 'config' };
  if (isLoopbackHost(host)) return undefined;
  if (!options.dataDir) {
    throw new BrokerStartError(
      `embedded MQTT broker refuses to listen on ${host} without authentication: set mqtt.username and mqtt.password`,
    );
  }
  return storedCredentials(path.join(options.dataDir, CREDENTIALS_FILE), options.log);
}

/** Reads the stored pair, or generates and stores one (mode 0600, never overwriting). */
export function storedCredentials(file: string, log: Logger): BrokerCredentials {
  const existing = readStoredCredentials(file, log);
  if (existing) return existing;
  const generated = { username: 'edge-agent', password: randomBytes(24).toString('base64url') };
  try {
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(generated, null, 2)}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new BrokerStartError(
      `embedded MQTT broker refuses to listen beyond loopback without credentials, and cannot store generated ones in ${file} (${errorMessage(err)}); set mqtt.username and mqtt.password`,
      { cause: err },
    );
  }
  log.warn(
    { file, username: generated.username },
    'generated credentials for the embedded MQTT broker (clients such as Home Assistant need them)',
  );
  return { ...generated, origin: 'generated', file };
}

/** The stored pair if the file exists; tightens its mode to 0600 when it was looser. */
export function readStoredCredentials(file: string, log?: Logger): BrokerCredentials | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BrokerStartError(`embedded MQTT broker: cannot read ${file} (${errorMessage(err)})`, {
      cause: err,
    });
  }
  let parsed: z.infer<typeof storedSchema>;
  try {
    parsed = storedSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new BrokerStartError(
      `embedded MQTT broker: ${file} is not a valid credentials file (${errorMessage(err)}); delete it to generate a new pair`,
      { cause: err },
    );
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    chmodSync(file, 0o600);
    log?.warn({ file }, 'credentials file was readable by others; mode set to 0600');
  }
  return { ...parsed, origin: 'stored', file };
}

/**
 * The mqtt config for a client of this device's embedded broker (the fleet CLI on the device):
 * with the stored generated pair when the config sets none and the file is readable.
 */
export function withEmbeddedCredentials(config: AgentConfig): AgentConfig['mqtt'] {
  const { mqtt } = config;
  if (mqtt.url !== 'embedded' || mqtt.username !== undefined) return mqtt;
  try {
    const stored = readStoredCredentials(path.join(config.dataDir, CREDENTIALS_FILE));
    return stored ? { ...mqtt, username: stored.username, password: stored.password } : mqtt;
  } catch {
    // Unreadable (another user's 0600 file): connect without; a loopback broker may not need it.
    return mqtt;
  }
}
