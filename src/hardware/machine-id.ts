import { createHost } from './host.js';

/**
 * The machine id (systemd's /etc/machine-id, or D-Bus's /var/lib/dbus/machine-id on older
 * systems): 32 hex digits, stable across reboots, unique per installation. The MQTT part uses it
 * as the default device id. Undefined when neither file holds a valid id (some containers).
 */
export async function readMachineId(root = '/'): Promise<string | undefined> {
  const host = createHost({ root });
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    const r = await host.readText(file);
    if (!r.ok) continue;
    const id = r.text.trim().toLowerCase();
    if (/^[0-9a-f]{32}$/.test(id)) return id;
  }
  return undefined;
}
