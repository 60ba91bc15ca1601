import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Makes any text a valid topic segment (letters, digits, `_`, `-`; 1-64). Pure. */
export function sanitizeDeviceId(text: string): string | undefined {
  const cleaned = text
    .trim()
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return cleaned.length > 0 ? cleaned : undefined;
}

/**
 * The device id used as MQTT client id and in topics: the configured one, else the machine id
 * (`/etc/machine-id`, stable across reboots and unique per installation), else the host name.
 * `root` lets tests point at a fixture tree.
 */
export function resolveDeviceId(configured: string | undefined, root = '/'): string {
  if (configured) return configured;
  for (const file of ['etc/machine-id', 'var/lib/dbus/machine-id']) {
    try {
      const id = sanitizeDeviceId(readFileSync(path.join(root, file), 'utf8'));
      if (id) return id;
    } catch {
      // Absent or unreadable (containers, non-systemd systems): try the next source.
    }
  }
  return sanitizeDeviceId(os.hostname()) ?? 'edge-agent';
}
