import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { errorMessage } from '../errors.js';
import type { CommandEnvelope } from './envelope.js';
import { parsePrivateKey, type SignedDocument, signPayload, TrustError } from './keys.js';

export interface CommandToSign {
  command: string;
  params: Record<string, unknown>;
  /** A device id, a list of them, or "*" (a group request). */
  target: CommandEnvelope['target'];
  nowMs: number;
  lifetimeS: number;
  cmdId?: string;
}

/** The envelope for a command, signed: the request body is `{ signed: <this> }`. */
export function signCommand(spec: CommandToSign, privateKeyPem: string): SignedDocument {
  const envelope: CommandEnvelope = {
    cmdId: spec.cmdId ?? randomUUID(),
    target: spec.target,
    issuedAt: new Date(spec.nowMs).toISOString(),
    expiresAt: new Date(spec.nowMs + spec.lifetimeS * 1000).toISOString(),
    command: spec.command,
    params: spec.params,
  };
  return signPayload('command', JSON.stringify(envelope), parsePrivateKey(privateKeyPem));
}

/**
 * Reads a private key file; warns (through `warn`) when others may read it. The error names the
 * file, never its content.
 */
export function readPrivateKeyFile(file: string, warn?: (message: string) => void): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
    if ((statSync(file).mode & 0o077) !== 0)
      warn?.(`${file}: private key is readable by group/others (chmod 600 ${file})`);
  } catch (err) {
    throw new TrustError(`cannot read private key ${file}: ${errorMessage(err)}`);
  }
  parsePrivateKey(pem);
  return pem;
}
