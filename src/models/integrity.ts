import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { errorMessage, ModelLoadError } from '../errors.js';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads a model file once and checks it against the manifest's sha256 and size, returning the
 * verified bytes (the session is created from these bytes, so what runs is what was checked).
 */
export async function readVerified(
  file: string,
  expectedSha256: string,
  expectedBytes?: number,
): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ModelLoadError(`${file}: cannot read model file (${errorMessage(err)})`, { cause: err });
  }
  const actual = sha256Hex(bytes);
  if (actual !== expectedSha256) {
    const sizeNote =
      expectedBytes !== undefined && expectedBytes !== bytes.length
        ? `; size ${bytes.length} bytes, manifest says ${expectedBytes}`
        : '';
    throw new ModelLoadError(
      `${file}: sha256 mismatch (expected ${expectedSha256.slice(0, 12)}…, got ${actual.slice(0, 12)}…${sizeNote}); ` +
        'the file is corrupt or was replaced — restore it or re-derive the variant',
    );
  }
  return bytes;
}
