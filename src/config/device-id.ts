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
 * A machine-id file's content, or undefined when it holds no id yet. systemd writes
 * `uninitialized` into /etc/machine-id early in the first boot (machine-id(5)) until the real id is
 * committed; an agent started then would take that word as its id, shared by every new device. Pure.
 */
export function machineIdFrom(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'uninitialized') return undefined;
  return sanitizeDeviceId(trimmed);
}

/**
 * The device id used as MQTT client id and in topics: the configured one, else the machine id
 * (`/etc/machine-id`, stable across reboots and unique per installation), else the host name.
 * An empty or `uninitialized` machine id counts as absent. `root` lets tests point at a fixture tree.
 */
export function resolveDeviceId(configured: string | undefined, root = '/'): string {
  if (configured) return configured;
  for (const file of ['etc/machine-id', 'var/lib/dbus/machine-id']) {
    try {
      const id = machineIdFrom(readFileSync(path.join(root, file), 'utf8'));
      if (id) return id;
    } catch {
      // Absent or unreadable (containers, non-systemd systems): try the next source.
    }
  }
  return sanitizeDeviceId(os.hostname()) ?? 'edge-agent';
}
