import { loadConfig } from '../config/index.js';
import { EdgeAgentError, UsageError } from '../errors.js';
import { withEmbeddedCredentials } from '../fleet/broker-auth.js';
import { FleetClient } from '../fleet/client.js';
import {
  connectOperator,
  type DeviceView,
  FleetView,
  figure,
  operatorUrl,
  parseTarget,
  type Target,
} from '../fleet/operator.js';
import { type Command, type CommandContext, formatTable, parseCommandArgs, writeJson } from './command.js';
import { readSignedManifest, serveModel, signedRequest } from './fleet-deploy.js';

const USAGE = [
  'edge-agent fleet ls [--wait S] [--no-status] [--json]',
  '       edge-agent fleet watch [--count N] [--duration S] [--json]',
  '       edge-agent fleet deploy TARGET SIGNED_MANIFEST [--serve FILE [--bind ADDR]] [--key KEY] [--timeout S]',
  '       edge-agent fleet deployments TARGET [--json]',
  '       edge-agent fleet send TARGET COMMAND [JSON] [--timeout S] [--expires S] [--key KEY] [--json]   (TARGET: DEVICE_ID or group:NAME)',
  '       common: [--url URL] [--prefix PREFIX] [--config FILE]',
].join('\n');

/** Exit code when no (or not every) device answered in time. */
export const FLEET_TIMEOUT_EXIT = 3;

const OPTIONS = {
  url: { type: 'string' },
  prefix: { type: 'string' },
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  wait: { type: 'string' },
  'no-status': { type: 'boolean' },
  count: { type: 'string' },
  duration: { type: 'string' },
  timeout: { type: 'string' },
  expires: { type: 'string' },
  key: { type: 'string' },
  serve: { type: 'string' },
  bind: { type: 'string' },
} as const;

function seconds(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`fleet: ${flag} expects a positive number of seconds, got "${value}"`);
  return n;
}

export const fleetCommand: Command = {
  name: 'fleet',
  summary: 'Operate a fleet over MQTT: ls (devices), watch (live telemetry), send (commands)',
  usage: USAGE,
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, OPTIONS);
    const [action, ...args] = positionals;
    if (!['ls', 'watch', 'send', 'deploy', 'deployments'].includes(action ?? '')) {
      throw new UsageError(`fleet: expected ls, watch, send, deploy or deployments\nusage: ${USAGE}`);
    }
    // Usage errors exit 2 before any network work.
    const request = action === 'send' ? parseSendArgs(args, values) : undefined;
    const deployment = action === 'deploy' ? parseDeployArgs(ctx, args) : undefined;
    const listing =
      action === 'deployments'
        ? parseSendArgs([args[0] ?? '', 'list-deployments', ...args.slice(1)], values)
        : undefined;
    const { config } = loadConfig({ file: values.config, env: ctx.env, cwd: ctx.cwd });
    const prefix = values.prefix ?? config.mqtt.prefix;
    const url = values.url ?? operatorUrl(config.mqtt);
    // The embedded broker's generated pair, when this is that broker (never sent to another one).
    const mqttConfig = values.url === undefined ? withEmbeddedCredentials(config) : config.mqtt;
    const fleet = new FleetClient(await connectOperator(url, mqttConfig), prefix);
    try {
      if (action === 'ls') return await ls(ctx, fleet, values);
      if (action === 'watch') return await watch(ctx, fleet, values);
      if (deployment) return await deploy(ctx, fleet, deployment, values);
      if (listing) return await send(ctx, fleet, listing, values);
      return await send(ctx, fleet, request!, values);
    } finally {
      await fleet.close();
    }
  },
};

type Values = ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'];

function cell(v: unknown, digits = 1): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return typeof v === 'string' && v !== '' ? v : '-';
}

function row(d: DeviceView): Record<string, unknown> {
  const active = (d.status?.active as Record<string, unknown> | undefined) ?? {};
  return {
    device: d.id,
    availability: d.availability ?? 'unknown',
    model: d.info?.model ?? active.model ?? figure(d, 'model'),
    variant: figure(d, 'variant') ?? d.info?.variant ?? active.variant,
    fps: figure(d, 'fps'),
    latencyTotalP95Ms: figure(d, 'latencyTotalP95Ms'),
    cpuPercent: figure(d, 'cpuPercent'),
    temperatureMaxC: figure(d, 'temperatureMaxC'),
    batteryPercent: figure(d, 'batteryPercent'),
    batteryCharging: figure(d, 'batteryCharging'),
    powerW: figure(d, 'powerW'),
    outboxPending: figure(d, 'outboxPending'),
    version: d.info?.version,
    groups: d.info?.groups,
  };
}

const HEADER = [
  'device',
  'status',
  'model',
  'variant',
  'fps',
  'p95 ms',
  'cpu %',
  'temp C',
  'battery %',
  'power W',
  'outbox',
];
/** Column widths of the streaming (non-TTY) watch output, where rows cannot be aligned afterwards. */
const STREAM_WIDTHS = [20, 8, 14, 12, 6, 7, 6, 7, 10, 8, 6];

function cells(r: Record<string, unknown>): string[] {
  return [
    cell(r.device),
    cell(r.availability),
    cell(r.model),
    cell(r.variant),
    cell(r.fps),
    cell(r.latencyTotalP95Ms),
    cell(r.cpuPercent),
    cell(r.temperatureMaxC),
    r.batteryPercent === undefined ? '-' : `${cell(r.batteryPercent, 0)}${r.batteryCharging ? ' (chg)' : ''}`,
    cell(r.powerW, 2),
    cell(r.outboxPending),
  ];
}

function table(rows: Array<Record<string, unknown>>): string {
  return formatTable(HEADER, rows.map(cells));
}

function streamLine(values: string[]): string {
  return values
    .map((v, i) => v.padEnd(STREAM_WIDTHS[i] ?? 0))
    .join(' ')
    .trimEnd();
}

async function ls(ctx: CommandContext, fleet: FleetClient, values: Values): Promise<number> {
  const { prefix } = fleet;
  const view = new FleetView(prefix);
  await fleet.collect(view, seconds(values.wait, '--wait', 1.5) * 1000);
  if (!values['no-status']) {
    // Live figures (fps, battery) come from each online device's own get-status answer.
    await Promise.all(
      view
        .list()
        .filter((d) => d.availability === 'online')
        .map(async (d) => {
          const answers = await fleet.exchange(
            { kind: 'device', id: d.id },
            'get-status',
            {},
            {
              timeoutMs: 3000,
              done: (a) => a.size > 0,
            },
          );
          const data = answers.get(d.id)?.data;
          if (data && typeof data === 'object') view.setStatus(d.id, data as Record<string, unknown>);
        }),
    );
  }
  const rows = view.list().map(row);
  if (values.json) writeJson(ctx.stdout, rows);
  else if (rows.length === 0) ctx.stdout.write(`no devices seen under "${prefix}/"\n`);
  else ctx.stdout.write(`${table(rows)}\n`);
  return 0;
}

async function watch(ctx: CommandContext, fleet: FleetClient, values: Values): Promise<number> {
  const view = new FleetView(fleet.prefix);
  const maxCount = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);
  if (!(maxCount > 0))
    throw new UsageError(`fleet: --count expects a positive integer, got "${values.count}"`);
  const durationMs =
    values.duration === undefined
      ? Number.POSITIVE_INFINITY
      : seconds(values.duration, '--duration', 1) * 1000;
  const interactive = Boolean((ctx.stdout as NodeJS.WriteStream).isTTY) && !values.json;
  let received = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const stopOnSignal = () => finish();
  process.once('SIGINT', stopOnSignal);
  await fleet.watch(view, (topic, device) => {
    if (!device || !topic.endsWith('/telemetry')) return;
    received++;
    if (values.json) ctx.stdout.write(`${JSON.stringify(device.telemetry)}\n`);
    else if (!interactive) ctx.stdout.write(`${streamLine(cells(row(device)))}\n`);
    if (received >= maxCount) finish();
  });
  if (!values.json && !interactive) ctx.stdout.write(`${streamLine(HEADER)}\n`);
  const redraw = interactive
    ? setInterval(
        () => ctx.stdout.write(`\x1b[2J\x1b[H${table(view.list().map(row))}\n(Ctrl-C to stop)\n`),
        1000,
      )
    : undefined;
  const timer = Number.isFinite(durationMs) ? setTimeout(() => finish(), durationMs) : undefined;
  await finished;
  clearInterval(redraw);
  clearTimeout(timer);
  process.off('SIGINT', stopOnSignal);
  return 0;
}

interface SendRequest {
  targetText: string;
  target: Target;
  command: string;
  params: Record<string, unknown>;
  timeoutMs: number;
  expiresS: number | undefined;
}

/** `fleet send` arguments, checked without touching the network (a usage error exits 2). */
export function parseSendArgs(args: string[], values: Values): SendRequest {
  const [targetText, command, json, ...extra] = args;
  if (!targetText || !command || extra.length > 0)
    throw new UsageError(`fleet send: expected TARGET COMMAND [JSON]\nusage: ${USAGE}`);
  if (!/^[a-z][a-z0-9-]{0,63}$/.test(command))
    throw new UsageError(`fleet send: "${command}" is not a command name`);
  const target = parseTarget(targetText);
  let params: Record<string, unknown> = {};
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (err) {
      throw new UsageError(`fleet send: JSON parameters are not valid JSON: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new UsageError('fleet send: JSON parameters must be an object, like \'{"fps": 5}\'');
    }
    params = parsed as Record<string, unknown>;
  }
  const timeoutMs = seconds(values.timeout, '--timeout', 10) * 1000;
  let expiresS: number | undefined;
  if (values.expires !== undefined) {
    const n = Number(values.expires);
    if (!Number.isInteger(n) || n < 1 || n > 4_294_967_295)
      throw new UsageError(
        `fleet send: --expires expects whole seconds (1 or more), got "${values.expires}"`,
      );
    expiresS = n;
  }
  return { targetText, target, command, params, timeoutMs, expiresS };
}

async function send(
  ctx: CommandContext,
  fleet: FleetClient,
  request: SendRequest,
  values: Values,
): Promise<number> {
  const { targetText, target, command, params, timeoutMs, expiresS } = request;
  if (expiresS !== undefined && fleet.client.options.protocolVersion !== 5) {
    throw new UsageError(
      'fleet send: --expires needs MQTT 5 (message expiry); this broker speaks 3.1.1, so a request cannot be made to expire',
    );
  }

  // Retained availability/info tell whether the device is up and who is in a group.
  const view = new FleetView(fleet.prefix);
  await fleet.collect(view, 500);
  let expected: string[] | undefined;
  if (target.kind === 'device') {
    expected = [target.id];
    const state = view.get(target.id)?.availability;
    if (state !== 'online') {
      ctx.stderr.write(
        `fleet send: ${target.id} is ${state ?? 'unknown to the broker'}; the request waits in its session if it has one` +
          (expiresS === undefined
            ? ' (--expires S drops it unless delivered within S seconds)\n'
            : ` for up to ${expiresS} s\n`),
      );
    }
  } else {
    const members = view.members(target.group).filter((id) => view.get(id)?.availability === 'online');
    expected = members.length > 0 ? members : undefined;
  }
  const body = values.key ? signedRequest(ctx, values.key, target, command, params, expiresS) : params;
  const answers = await fleet.exchange(target, command, body, {
    timeoutMs,
    done: (a) => (expected ? expected.every((id) => a.has(id)) : false),
    expiresS,
  });
  const results = [...answers.values()];
  if (values.json) writeJson(ctx.stdout, target.kind === 'device' ? (results[0] ?? null) : results);
  else for (const r of results) ctx.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  const missing = (expected ?? []).filter((id) => !answers.has(id));
  if (results.length === 0) {
    throw new TimeoutExit(
      `fleet send: no answer to ${command} from ${targetText} within ${timeoutMs / 1000} s`,
    );
  }
  if (missing.length > 0) {
    ctx.stderr.write(`fleet send: no answer from ${missing.join(', ')} within ${timeoutMs / 1000} s\n`);
    return FLEET_TIMEOUT_EXIT;
  }
  return results.every((r) => r.status === 'ok') ? 0 : 1;
}

/** `fleet deploy`: sends the signed manifest; with --serve, serves the file until the devices finish. */
function parseDeployArgs(ctx: CommandContext, args: string[]) {
  const [targetText, file, ...extra] = args;
  if (!targetText || !file || extra.length > 0)
    throw new UsageError(`fleet deploy: expected TARGET SIGNED_MANIFEST\nusage: ${USAGE}`);
  parseTarget(targetText);
  return { targetText, ...readSignedManifest(ctx, file) };
}

async function deploy(
  ctx: CommandContext,
  fleet: FleetClient,
  { targetText, doc, manifest }: ReturnType<typeof parseDeployArgs>,
  values: Values,
): Promise<number> {
  const server = values.serve
    ? await serveModel(ctx, values.serve, manifest.url, manifest.bytes, values.bind)
    : undefined;
  try {
    const request = parseSendArgs([targetText, 'deploy-model', JSON.stringify({ manifest: doc })], values);
    const code = await send(ctx, fleet, request, values);
    if (code !== 0 || !server) return code;
    // Keep serving until the device(s) report a final state (or the timeout).
    const deadline = Date.now() + seconds(values.timeout, '--timeout', 600) * 1000;
    const target = parseTarget(targetText);
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2000));
      // Signed like the deploy request when a key is given (devices may refuse unsigned requests).
      const poll = values.key ? signedRequest(ctx, values.key, target, 'list-deployments', {}, 60) : {};
      const answers = await fleet.exchange(target, 'list-deployments', poll, {
        timeoutMs: 3000,
        done: (a) => target.kind === 'device' && a.size > 0,
      });
      const states = [...answers.values()].map(
        (a) => (a.data as { update?: { state?: string } } | undefined)?.update?.state,
      );
      if (
        states.length > 0 &&
        states.every(
          (s) =>
            s &&
            !['downloading', 'validating', 'installing', 'health', 'committing', 'verifying'].includes(s),
        )
      ) {
        for (const a of answers.values())
          ctx.stdout.write(`${JSON.stringify({ device: a.device, ...((a.data as object) ?? {}) })}\n`);
        return states.every((s) => s === 'committed') ? 0 : 1;
      }
    }
    ctx.stderr.write('fleet deploy: devices still busy at the timeout; see `fleet deployments`\n');
    return FLEET_TIMEOUT_EXIT;
  } finally {
    server?.closeAllConnections();
    server?.close();
  }
}

class TimeoutExit extends EdgeAgentError {
  override name = 'TimeoutExit';
  override readonly exitCode = FLEET_TIMEOUT_EXIT;
}
