import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { EdgeAgentError } from '../errors.js';

/**
 * Ed25519 keys and detached signatures (node:crypto only). A signed document carries the exact
 * bytes that were signed (`payload`, a JSON text), so nothing depends on canonical JSON; the
 * signature covers a purpose label too, so a signed manifest can never be replayed as a command.
 */

export type SignaturePurpose = 'command' | 'deploy-manifest';

/** What travels: the signed JSON text, the signer's key id and the signature (base64). */
export interface SignedDocument {
  payload: string;
  keyId: string;
  signature: string;
}

export class TrustError extends EdgeAgentError {
  override name = 'TrustError';
}

/** `keyId` of a public key: the first 16 bytes (hex) of the SHA-256 of its SPKI DER. */
export function keyFingerprint(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 32);
}

export interface GeneratedKeys {
  /** PKCS#8 PEM: keep on the operator's machine, mode 0600. */
  privatePem: string;
  /** SPKI PEM. */
  publicPem: string;
  /** Base64 SPKI DER: the value for `trust.keys[].key` in a device config. */
  publicBase64: string;
  keyId: string;
}

export function generateKeys(): GeneratedKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicBase64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    keyId: keyFingerprint(publicKey),
  };
}

/** A public key from PEM or base64 SPKI DER; must be Ed25519. */
export function parsePublicKey(text: string): KeyObject {
  let key: KeyObject;
  try {
    const t = text.trim();
    key = t.startsWith('-----BEGIN')
      ? createPublicKey(t)
      : createPublicKey({ key: Buffer.from(t, 'base64'), format: 'der', type: 'spki' });
  } catch (err) {
    throw new TrustError('not a public key (expected PEM or base64 SPKI DER)', { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new TrustError(`expected an Ed25519 public key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/** A private key from PKCS#8 PEM; must be Ed25519. The message never contains key material. */
export function parsePrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new TrustError('not a private key (expected PKCS#8 PEM from `edge-agent keys generate`)', {
      cause: err,
    });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new TrustError(`expected an Ed25519 private key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

function signedBytes(purpose: SignaturePurpose, payload: string): Buffer {
  return Buffer.concat([Buffer.from(`edge-agent/${purpose}/v1\n`, 'utf8'), Buffer.from(payload, 'utf8')]);
}

export function signPayload(
  purpose: SignaturePurpose,
  payload: string,
  privateKey: KeyObject,
): SignedDocument {
  const publicKey = createPublicKey(privateKey);
  return {
    payload,
    keyId: keyFingerprint(publicKey),
    signature: sign(null, signedBytes(purpose, payload), privateKey).toString('base64'),
  };
}

/** Whether `doc.signature` is `publicKey`'s signature of `doc.payload` for `purpose`. Never throws. */
export function signatureValid(
  purpose: SignaturePurpose,
  doc: SignedDocument,
  publicKey: KeyObject,
): boolean {
  try {
    const sig = Buffer.from(doc.signature, 'base64');
    if (sig.length !== 64) return false;
    return verify(null, signedBytes(purpose, doc.payload), publicKey, sig);
  } catch {
    // A malformed signature is simply not valid.
    return false;
  }
}
