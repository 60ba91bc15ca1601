import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { generateKeys, parsePrivateKey, type SignaturePurpose, signPayload } from '../trust/keys.js';
import { readPrivateKeyFile } from '../trust/sign-command.js';
import { type Command, parseCommandArgs, writeJson } from './command.js';

const KEYS_USAGE = 'edge-agent keys generate --out NAME [--name LABEL] [--force] [--json]';

/** `keys generate`: an Ed25519 pair, the private half 0600, and the config entry for devices. */
export const keysCommand: Command = {
  name: 'keys',
  summary: 'Generate an Ed25519 signing key pair for commands and deployment manifests',
  usage: KEYS_USAGE,
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, {
      out: { type: 'string', short: 'o' },
      name: { type: 'string' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (positionals[0] !== 'generate' || positionals.length !== 1 || !values.out)
      throw new UsageError(`keys: expected generate --out NAME\nusage: ${KEYS_USAGE}`);
    const base = path.resolve(ctx.cwd, values.out);
    const privateFile = `${base}.key`;
    const publicFile = `${base}.pub`;
    for (const f of [privateFile, publicFile])
      if (existsSync(f) && !values.force) throw new UsageError(`keys: ${f} exists (--force to overwrite)`);
    const keys = generateKeys();
    // Created with mode 0600 (not chmod afterwards: never readable by others, even briefly).
    writeFileSync(privateFile, keys.privatePem, { mode: 0o600, flag: values.force ? 'w' : 'wx' });
    writeFileSync(publicFile, keys.publicPem, { mode: 0o644, flag: values.force ? 'w' : 'wx' });
    const entry = { name: values.name ?? path.basename(base), key: keys.publicBase64, allow: ['*'] };
    if (values.json) writeJson(ctx.stdout, { privateFile, publicFile, keyId: keys.keyId, trustKey: entry });
    else
      ctx.stdout.write(
        `private key: ${privateFile} (mode 600; keep it off the devices)\npublic key:  ${publicFile}\n` +
          `key id:      ${keys.keyId}\n\nAdd to each device's config, under trust.keys (narrow "allow" as needed):\n` +
          `${JSON.stringify(entry, null, 2)}\n`,
      );
    return 0;
  },
};

const SIGN_USAGE = 'edge-agent sign FILE --key KEY [--out FILE] [--purpose deploy-manifest|command]';

/** `sign FILE --key KEY`: the signed document `{payload, keyId, signature}` of a JSON file. */
export const signCommand: Command = {
  name: 'sign',
  summary: 'Sign a JSON file (a deployment manifest) with an Ed25519 private key',
  usage: SIGN_USAGE,
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, {
      key: { type: 'string', short: 'k' },
      out: { type: 'string', short: 'o' },
      purpose: { type: 'string' },
    });
    if (positionals.length !== 1 || !values.key)
      throw new UsageError(`sign: expected FILE --key KEY\nusage: ${SIGN_USAGE}`);
    const purpose = (values.purpose ?? 'deploy-manifest') as SignaturePurpose;
    if (purpose !== 'deploy-manifest' && purpose !== 'command')
      throw new UsageError(`sign: --purpose is deploy-manifest or command, got "${values.purpose}"`);
    const file = path.resolve(ctx.cwd, positionals[0]!);
    const payload = readFileSync(file, 'utf8');
    try {
      JSON.parse(payload);
    } catch (err) {
      throw new UsageError(`sign: ${file} is not JSON: ${(err as Error).message}`);
    }
    const pem = readPrivateKeyFile(path.resolve(ctx.cwd, values.key), (m) =>
      ctx.stderr.write(`sign: ${m}\n`),
    );
    const doc = signPayload(purpose, payload, parsePrivateKey(pem));
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (values.out) writeFileSync(path.resolve(ctx.cwd, values.out), text);
    else ctx.stdout.write(text);
    return 0;
  },
};
