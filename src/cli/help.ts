import type { Command } from './command.js';

/** One option line of a command's help. */
export interface OptionHelp {
  /** As typed, with its value placeholder: `--model NAME`. */
  flag: string;
  /** One sentence. */
  text: string;
  /** The value used when the option is not given. */
  default?: string;
}

/** The long help of a command: `edge-agent help COMMAND` and `edge-agent COMMAND --help`. */
export interface CommandHelp {
  /** Positional arguments or subcommands, same shape as options. */
  arguments?: OptionHelp[];
  options: OptionHelp[];
  /** Two or three runnable command lines, each with what it does after a `#`. */
  examples: string[];
  /** Anything a user needs to know that does not fit an option line. */
  notes?: string[];
}

const CONFIG: OptionHelp = {
  flag: '-c, --config FILE',
  text: 'Read this agent.config.json instead of the one found in the current directory.',
  default: "./agent.config.json, else the package's bundled one",
};
const JSON_OUT: OptionHelp = {
  flag: '--json',
  text: 'Print machine-readable JSON on stdout instead of a table.',
};
const THREADS: OptionHelp = {
  flag: '--threads N',
  text: 'onnxruntime intra-op threads; 0 lets onnxruntime decide.',
  default: 'inference.threads from the config (0)',
};

/** Long help by command name. A command without an entry shows its usage line and summary. */
export const HELP: Readonly<Record<string, CommandHelp>> = {
  run: {
    options: [CONFIG],
    examples: [
      'edge-agent run                              # bundled model on the sample frames, embedded broker, dashboard on 127.0.0.1:8080',
      'edge-agent run --config /etc/edge-agent/agent.config.json',
      'EDGE_AGENT_HTTP_PORT=9090 EDGE_AGENT_LOG_LEVEL=debug edge-agent run',
    ],
    notes: [
      'Environment overrides (EDGE_AGENT_*) are listed in docs/config.md. Exits 75 after a `restart` command so the service manager starts it again.',
    ],
  },
  infer: {
    arguments: [{ flag: 'IMAGE', text: 'A JPEG, PNG or WebP file to run through the model.' }],
    options: [
      {
        flag: '-m, --model NAME',
        text: 'Model to run (see `edge-agent models`).',
        default: 'models.default (yolox-nano)',
      },
      {
        flag: '--variant ID',
        text: 'Variant of the model (fp32, int8-…, a derived one).',
        default: "the model's default variant",
      },
      THREADS,
      JSON_OUT,
      CONFIG,
    ],
    examples: [
      'edge-agent infer samples/000000193245.jpg                       # detections with YOLOX-nano',
      'edge-agent infer samples/coffee.png --model squeezenet1.1 --json # top classes as JSON',
    ],
  },
  models: {
    options: [
      { flag: '--verify', text: 'Check every variant file against its sha256 (exit 1 on a mismatch).' },
      JSON_OUT,
      CONFIG,
    ],
    examples: ['edge-agent models', 'edge-agent models --verify     # after copying models to a device'],
  },
  cameras: {
    options: [
      JSON_OUT,
      {
        flag: '--root DIR',
        text: 'Read /dev and /sys under DIR instead of / (fixture trees in tests).',
        default: '/',
      },
    ],
    examples: ['edge-agent cameras', 'edge-agent cameras --json | jq ".cameras[].source"'],
    notes: ['Without a camera, set camera.source to "images:DIR", "file:VIDEO" or "synthetic".'],
  },
  config: {
    arguments: [
      { flag: 'validate [FILE]', text: 'Validate the config and name the path of every bad field (exit 1).' },
      {
        flag: 'print [FILE]',
        text: 'Print the effective config (file + defaults + environment), secrets redacted.',
      },
      { flag: 'schema', text: 'Print the JSON Schema of agent.config.json (for editors).' },
    ],
    options: [],
    examples: [
      'edge-agent config validate agent.config.json',
      'EDGE_AGENT_HTTP_PORT=9090 edge-agent config print   # see what an override does',
    ],
  },
  profile: {
    options: [
      JSON_OUT,
      { flag: '--root DIR', text: 'Read /proc and /sys under DIR (a captured board tree).', default: '/' },
      {
        flag: '--data-dir DIR',
        text: 'Where the execution-provider probe result is cached.',
        default: 'dataDir from the config (./data)',
      },
    ],
    examples: [
      'edge-agent profile',
      'edge-agent profile --json > profile.json',
      'edge-agent profile --root test/fixtures/hardware/jetson-orin-nano',
    ],
  },
  derive: {
    arguments: [{ flag: 'MODEL', text: 'The model to derive a variant of (see `edge-agent models`).' }],
    options: [
      {
        flag: '--method METHOD',
        text: 'One of the methods in the summary above, e.g. int8-static, fp16, prune (required).',
      },
      {
        flag: '--variant SOURCE',
        text: 'The variant to start from.',
        default: "the model's default variant",
      },
      { flag: '--calib DIR', text: 'Calibration images for int8-static.', default: 'the bundled samples' },
      {
        flag: '--frames DIR',
        text: 'Images on which fidelity against the reference is measured.',
        default: 'the calibration images',
      },
      {
        flag: '--out DATADIR',
        text: 'Data directory the variant is written under.',
        default: 'dataDir from the config',
      },
      {
        flag: '--id ID',
        text: 'Name of the new variant.',
        default: '<source>_<method tag>, e.g. fp32_int8s-pct99.999-f0.9',
      },
      {
        flag: '--ranges minmax|percentile|entropy',
        text: 'int8-static: how activation ranges are calibrated.',
        default: 'percentile',
      },
      {
        flag: '--percentile P',
        text: 'int8-static: the percentile for --ranges percentile.',
        default: '99.999',
      },
      {
        flag: '--floor F|none',
        text: 'int8-static: keep nodes in float until fidelity reaches F.',
        default: 'policy.fidelityFloor (0.9)',
      },
      { flag: '--calib-frames N', text: 'int8-static: how many calibration frames are used.' },
      {
        flag: '--mode unstructured|structured',
        text: 'prune: single weights or whole channels.',
        default: 'unstructured',
      },
      {
        flag: '--sparsity S',
        text: 'prune: share of weights removed, 0.01–0.95.',
        default: '0.3 (structured 0.1)',
      },
      { flag: '--energy E', text: 'lowrank: share of singular-value energy kept, 0.5–1.', default: '0.99' },
      { flag: '--param KEY=VALUE', text: 'Any other method parameter (repeatable).' },
      THREADS,
      { flag: '--dry-run', text: 'Derive and measure, but write nothing.' },
      { flag: '-q, --quiet', text: 'No progress on stderr.' },
      JSON_OUT,
      CONFIG,
    ],
    examples: [
      'edge-agent derive yolox-nano --method int8-static --calib samples     # int8 calibrated on the samples',
      'edge-agent derive squeezenet1.1 --method fp16',
      'edge-agent derive yolox-nano --method prune --sparsity 0.5 --dry-run  # what would it cost?',
    ],
  },
  fidelity: {
    arguments: [{ flag: 'MODEL', text: 'The model whose variant is compared.' }],
    options: [
      { flag: '--variant ID', text: 'The variant to judge (required).' },
      {
        flag: '--reference ID',
        text: 'The variant to compare with.',
        default: "the variant's recorded reference",
      },
      { flag: '--frames DIR', text: 'Images to compare on.', default: 'the bundled samples' },
      { flag: '--limit N', text: 'Use at most N images.', default: 'all' },
      THREADS,
      { flag: '-q, --quiet', text: 'No progress on stderr.' },
      JSON_OUT,
      CONFIG,
    ],
    examples: [
      'edge-agent fidelity yolox-nano --variant fp32_fp16',
      'edge-agent fidelity squeezenet1.1 --variant fp16 --frames ~/photos --limit 50 --json',
    ],
  },
  tune: {
    options: [
      {
        flag: '--model NAME',
        text: 'The model whose variants are measured.',
        default: 'models.default (yolox-nano)',
      },
      {
        flag: '--objective ID',
        text: 'max-accuracy (under the budgets), min-latency or min-energy (above the fidelity floor).',
        default: 'policy.objective (max-accuracy)',
      },
      {
        flag: '--latency-p95-ms N',
        text: 'Latency budget per inference (p95).',
        default: 'policy.latencyP95Ms (250)',
      },
      {
        flag: '--min-fidelity F',
        text: 'Lowest fidelity against the reference, 0–1.',
        default: 'policy.fidelityFloor (0.9)',
      },
      {
        flag: '--max-memory-mb MB',
        text: 'Memory a measuring child may use for its session; a candidate over it does not fit.',
        default: 'policy.tuning.childMemoryMB, else the budget and what is available',
      },
      {
        flag: '--derive auto|never',
        text: 'Derive variants: int8, fp16, clean when no measured one meets the policy; input-uint8 of a choice normalised in JavaScript every frame (the same outputs for less CPU).',
        default: 'auto',
      },
      { flag: '--force', text: 'Measure again instead of using the cached measurements.' },
      { flag: '--plot FILE.svg', text: 'Write the trade-off charts of the decision to FILE.svg.' },
      {
        flag: '--frames DIR',
        text: 'Images for the fidelity measurement.',
        default: "the camera's image folder when it is one, else the bundled samples",
      },
      { flag: '-q, --quiet', text: 'No progress on stderr.' },
      JSON_OUT,
      CONFIG,
    ],
    examples: [
      'edge-agent tune                                   # measure (or reuse the cache) and choose',
      'edge-agent tune --objective min-latency --min-fidelity 0.95 --plot tune.svg',
      'edge-agent tune --force --derive never --json     # fresh measurements, shipped variants only',
    ],
  },
  keys: {
    arguments: [{ flag: 'generate', text: 'Create an Ed25519 key pair: NAME.key (mode 600) and NAME.pub.' }],
    options: [
      { flag: '--out NAME', text: 'Path and base name of the two files.' },
      { flag: '--name LABEL', text: 'Label in the printed trust.keys entry.', default: 'the base name' },
      { flag: '--force', text: 'Overwrite existing files.' },
      JSON_OUT,
    ],
    examples: ['edge-agent keys generate --out ops', 'edge-agent keys generate --out dashboard --json'],
    notes: ['Add the printed entry to trust.keys in each device config (docs/fleet-security.md).'],
  },
  sign: {
    arguments: [{ flag: 'FILE', text: 'A JSON file: a deployment manifest.' }],
    options: [
      { flag: '--key KEY', text: 'The private key from `edge-agent keys generate`.' },
      { flag: '--out FILE', text: 'Write the signed document here.', default: 'standard output' },
      { flag: '--purpose P', text: 'deploy-manifest or command.', default: 'deploy-manifest' },
    ],
    examples: [
      'edge-agent sign manifest.json --key ops.key --out manifest.signed.json',
      'edge-agent sign manifest.json --key ops.key | jq .keyId',
    ],
  },
  doctor: {
    options: [
      CONFIG,
      {
        flag: '--root DIR',
        text: 'Read board, throttling and memory files under DIR instead of the live system (a captured device tree).',
        default: '/',
      },
      { flag: '--json', text: 'Print {status, exitCode, checks: [{id, status, summary, fix?}]} on stdout.' },
    ],
    examples: [
      'edge-agent doctor                                 # every check with a one-line fix for what fails',
      'edge-agent doctor --config /etc/edge-agent/agent.config.json --json',
      'edge-agent doctor --root test/fixtures/hardware/raspberry-pi-4   # a captured Pi 4 tree',
    ],
    notes: [
      'Checks: config, camera, ffmpeg, broker, clock, disk, memory, throttling, providers, service (docs/install.md).',
      'Exit code: 0 all ok, 1 warnings only, 2 at least one failure.',
    ],
  },
  plan: {
    options: [
      {
        flag: '--hours N',
        text: 'Hours the device must keep running on the battery.',
        default: 'policy.batteryHours',
      },
      {
        flag: '--model NAME',
        text: 'The model whose measured variants are planned over.',
        default: 'models.default (yolox-nano)',
      },
      {
        flag: '--wh WH',
        text: 'Energy to plan with, in Wh.',
        default:
          "the battery's energy_now (or charge × voltage), else percent × power.batteryWh, else power.batteryWh",
      },
      {
        flag: '--min-fps F',
        text: 'Never plan fewer inferences per second than this.',
        default: 'policy.minFps',
      },
      {
        flag: '--max-interval-s S',
        text: 'Never plan longer than this between inferences.',
        default: 'policy.maxIntervalS (else one an hour)',
      },
      { flag: '-q, --quiet', text: 'No progress on stderr.' },
      JSON_OUT,
      CONFIG,
    ],
    examples: [
      'edge-agent plan --hours 12                        # on this battery, from the tuner cache',
      'edge-agent plan --hours 48 --wh 60 --max-interval-s 300 --json',
    ],
  },
  fleet: {
    arguments: [
      {
        flag: 'ls',
        text: 'List the devices the broker knows (retained availability and info), with live figures.',
      },
      { flag: 'watch', text: 'Print telemetry and events as they arrive.' },
      {
        flag: 'send TARGET COMMAND [JSON]',
        text: 'Send a command to DEVICE_ID or group:NAME and print the answers.',
      },
      {
        flag: 'deploy TARGET SIGNED_MANIFEST',
        text: 'Send a signed model manifest (`edge-agent sign`) as deploy-model and wait for the outcome.',
      },
      { flag: 'deployments TARGET', text: 'Show installed deployed versions and the latest deployment.' },
    ],
    options: [
      {
        flag: '--url URL',
        text: 'Broker to connect to.',
        default: 'mqtt.url from the config (the embedded broker on 127.0.0.1:1883)',
      },
      { flag: '--prefix PREFIX', text: 'Topic prefix of the fleet.', default: 'mqtt.prefix (edge-agent)' },
      { flag: '--wait S', text: 'ls: seconds to collect retained messages.', default: '1.5' },
      { flag: '--no-status', text: 'ls: do not ask each online device for get-status.' },
      { flag: '--count N', text: 'watch: stop after N messages.', default: 'unlimited' },
      { flag: '--duration S', text: 'watch: stop after S seconds.', default: 'until Ctrl-C' },
      { flag: '--timeout S', text: 'send: seconds to wait for answers.', default: '10' },
      { flag: '--expires S', text: 'send: drop the request unless delivered within S seconds (MQTT 5).' },
      {
        flag: '--key KEY',
        text: 'send, deploy: sign the request with this Ed25519 private key (docs/fleet-security.md).',
      },
      { flag: '--serve FILE', text: "deploy: serve FILE at the manifest's URL until the devices finish." },
      JSON_OUT,
      CONFIG,
    ],
    examples: [
      'edge-agent fleet ls --url mqtt://broker.local',
      'edge-agent fleet send pi-kitchen set-fps \'{"fps": 2}\'',
      'edge-agent fleet send group:garden snapshot --json | jq -r .data.jpegBase64 | base64 -d > s.jpg',
      'edge-agent fleet deploy group:lobby manifest.signed.json --serve slim-v2.onnx --key ops.key',
    ],
    notes: [
      'Exit codes: 0 all answered ok, 1 an error answer, 2 usage error (checked before connecting), 3 no answer in time.',
      'Commands: ping, get-status, get-profile, get-config, set-config, list-models, set-model, derive, snapshot, set-fps, set-inference, get-controls, restart, deploy-model, rollback-model, list-deployments (docs/mqtt.md).',
    ],
  },
};

function section(title: string, items: OptionHelp[]): string[] {
  if (items.length === 0) return [];
  const width = Math.min(34, Math.max(...items.map((o) => o.flag.length)));
  const lines = items.map((o) => {
    const text = o.default === undefined ? o.text : `${o.text} Default: ${o.default}.`;
    return o.flag.length > width
      ? `  ${o.flag}\n  ${' '.repeat(width)}  ${text}`
      : `  ${o.flag.padEnd(width)}  ${text}`;
  });
  return ['', `${title}:`, ...lines];
}

/** The full help of one command (usage, summary, arguments, options with defaults, examples). */
export function commandHelp(command: Pick<Command, 'name' | 'summary' | 'usage'>): string {
  const help = HELP[command.name];
  const lines = [`usage: ${command.usage}`, '', command.summary];
  if (help) {
    lines.push(...section('arguments', help.arguments ?? []));
    lines.push(...section('options', [...help.options, { flag: '-h, --help', text: 'Show this help.' }]));
    if (help.notes?.length) lines.push('', ...help.notes);
    lines.push('', 'examples:', ...help.examples.map((e) => `  ${e}`));
  }
  return `${lines.join('\n')}\n`;
}
