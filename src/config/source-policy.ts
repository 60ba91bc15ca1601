import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { errorMessage } from '../errors.js';

/**
 * Which network camera URLs an unsigned remote request (MQTT `set-config`) may select. A camera URL
 * makes the device itself open a connection, so without a rule a publisher could point it at the
 * device's own services (loopback), the LAN-invisible link-local range, or a cloud metadata
 * endpoint, and read the answer back through snapshots and camera errors (SSRF). Remote requests
 * may select cameras anywhere else — LAN addresses included, that is where IP cameras live. The
 * config file on the device may set any source (it is the local authority).
 */

/** Why an IP address may not be a remotely set camera host, or undefined when it may. Pure. */
export function blockedAddressReason(address: string): string | undefined {
  if (isIP(address) === 4) return blockedIpv4(address.split('.').map(Number));
  if (isIP(address) === 6) return blockedIpv6(address);
  return undefined;
}

function blockedIpv4(o: number[]): string | undefined {
  const [a, b, c, d] = o as [number, number, number, number];
  if (a === 127) return 'a loopback address';
  if (a === 0) return 'an unspecified address (reaches this device)';
  if (a === 169 && b === 254) return 'a link-local address (cloud metadata lives at 169.254.169.254)';
  if (a === 100 && b === 100 && c === 100 && d === 200) return 'a cloud metadata address';
  if (a === 255 && b === 255 && c === 255 && d === 255) return 'the broadcast address';
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (valid per `isIP`). */
function hextets(address: string): number[] {
  let text = address.toLowerCase().split('%')[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((h) => Number.parseInt(h, 16));
}

function blockedIpv6(address: string): string | undefined {
  const h = hextets(address);
  const zeros = (n: number) => h.slice(0, n).every((x) => x === 0);
  if (zeros(8)) return 'an unspecified address (reaches this device)';
  if (zeros(7) && h[7] === 1) return 'a loopback address';
  if ((h[0]! & 0xffc0) === 0xfe80) return 'a link-local address';
  if (h[0] === 0xfd00 && h[1] === 0x0ec2 && h.slice(2, 7).every((x) => x === 0) && h[7] === 0x254)
    return 'a cloud metadata address';
  // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d).
  const mapped = zeros(5) && (h[5] === 0xffff || h[5] === 0);
  const nat64 = h[0] === 0x64 && h[1] === 0xff9b && h.slice(2, 6).every((x) => x === 0);
  if (mapped || nat64) {
    const v4 = [h[6]! >> 8, h[6]! & 0xff, h[7]! >> 8, h[7]! & 0xff];
    const reason = blockedIpv4(v4);
    if (reason) return `${reason} (inside IPv6)`;
  }
  return undefined;
}

const BLOCKED_NAMES = new Set([
  'localhost',
  'localhost.localdomain',
  'ip6-localhost',
  'ip6-loopback',
  'metadata',
  'metadata.google.internal',
  'instance-data',
  'instance-data.ec2.internal',
]);

/**
 * The host of a network camera URL as the capture tool will see it: the authority between `//` and
 * the first `/`, `?` or `#`, after the last `@`. Anything that parsers disagree about (a backslash,
 * spaces, a second `@`, a bare `%`) is refused rather than guessed at. Pure.
 */
export function cameraUrlHost(source: string): { host: string } | { problem: string } {
  const m = /^(rtsps?|https?):\/\/([^/?#]*)/i.exec(source.trim());
  if (!m) return { problem: 'not a network camera URL' };
  const authority = m[2]!;
  if (/[\\\s]/.test(authority) || (authority.match(/@/g)?.length ?? 0) > 1)
    return { problem: 'an ambiguous URL authority (escape "@" in credentials as %40)' };
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const bracketed = /^\[([0-9A-Fa-f:.]+(?:%25[\w.~-]+)?)\](?::\d{1,5})?$/.exec(hostPort);
  if (bracketed) return { host: bracketed[1]!.replace(/%25.*$/, '') };
  const plain = /^([A-Za-z0-9._~%-]+)(?::\d{1,5})?$/.exec(hostPort);
  if (!plain) return { problem: 'no valid host' };
  try {
    // WHATWG host parsing: lower case, punycode, and the IPv4 forms inet_aton also accepts
    // (2130706433, 0x7f.1, 127.1) normalised to dotted decimal.
    return { host: new URL(`http://${plain[1]}/`).hostname.replace(/\.$/, '') };
  } catch {
    return { problem: 'no valid host' };
  }
}

/** Why a host (name or address) may not be a remotely set camera host; undefined when it may. Pure. */
export function blockedHostReason(host: string): string | undefined {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (isIP(h)) return blockedAddressReason(h);
  if (BLOCKED_NAMES.has(h) || h.endsWith('.localhost'))
    return 'a name of this device or of a metadata service';
  return undefined;
}

/** For a camera source set remotely: undefined when allowed, else why not. Pure (no DNS). */
export function remoteCameraUrlProblem(source: string): string | undefined {
  const parsed = cameraUrlHost(source);
  if ('problem' in parsed) return parsed.problem;
  const reason = blockedHostReason(parsed.host);
  return reason ? `host ${parsed.host} is ${reason}` : undefined;
}

export type LookupAll = (host: string) => Promise<Array<{ address: string }>>;

const systemLookup: LookupAll = (host) => dnsLookup(host, { all: true, verbatim: true });

/**
 * The DNS half of the rule: a host name must not resolve to a blocked address now (names such as
 * `127.0.0.1.nip.io` or this device's own host name). A name that cannot be resolved is refused
 * too (no camera could be reached there either). What a name resolves to later (DNS rebinding)
 * is outside this check: see docs/camera.md.
 */
export async function remoteCameraHostProblem(
  source: string,
  lookup: LookupAll = systemLookup,
  timeoutMs = 3000,
): Promise<string | undefined> {
  const parsed = cameraUrlHost(source);
  if ('problem' in parsed) return parsed.problem;
  if (isIP(parsed.host)) return undefined; // the pure check covered it
  let addresses: Array<{ address: string }>;
  let timer: NodeJS.Timeout | undefined;
  try {
    addresses = await Promise.race([
      lookup(parsed.host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    return `host ${parsed.host} cannot be resolved to check it (${errorMessage(err)}); use an IP address or retry`;
  } finally {
    clearTimeout(timer);
  }
  for (const { address } of addresses) {
    const reason = blockedAddressReason(address);
    if (reason) return `host ${parsed.host} resolves to ${address}, ${reason}`;
  }
  return undefined;
}
