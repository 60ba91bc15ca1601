// `npm run bench [-- --only a,b] [-- --quick]`: runs the benchmark sections in one process and writes
// bench/results.json and bench/results.md. Figures are ratios and percentiles measured in one run;
// this machine is shared and noisy, so compare numbers from the same run only.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/paths.js';
import { benchBattery } from './bench/battery.js';
import { benchColdStart } from './bench/cold-start.js';
import { benchDerive } from './bench/derive.js';
import { benchInference } from './bench/inference.js';
import { machineInfo } from './bench/machine.js';
import { benchMemory } from './bench/memory.js';
import { benchMemoryBreakdown } from './bench/memory-breakdown.js';
import { benchMqtt } from './bench/mqtt.js';
import { benchMqttPacketPool } from './bench/mqtt-packet-pool.js';
import { benchOptimize } from './bench/optimize.js';
import { benchPackageCost } from './bench/package-cost.js';
import { benchPipeline } from './bench/pipeline.js';
import { benchTune } from './bench/tune.js';

interface Section {
  name: string;
  title: string;
  run: (opts: {
    quick: boolean;
    log: (line: string) => void;
  }) => Promise<{ json: unknown; markdown: string }>;
}

const SECTIONS: Section[] = [
  // First: its RSS figures are this process's, which later sections would leave holding hundreds of MB.
  {
    name: 'derive',
    title: 'A derivation asked of the running agent: event loop and memory, in-process vs child process',
    run: ({ quick, log }) => benchDerive({ log, ...(quick ? { model: 'squeezenet1.1' } : {}) }),
  },
  {
    name: 'inference',
    title: 'Bundled variants: session creation, session.run and end-to-end latency',
    run: ({ quick, log }) => benchInference({ runs: quick ? 10 : 30, rounds: quick ? 1 : 3, log }),
  },
  {
    name: 'pipeline',
    title:
      'Camera pipeline: agent vs a bare session.run loop, CPU per frame, main-thread busy, event-loop lag',
    run: ({ quick, log }) => benchPipeline({ quick, log }),
  },
  {
    name: 'cold-start',
    title: 'Cold start: `node dist/cli.js run` to /healthz and to the first result',
    run: ({ quick, log }) => benchColdStart({ log, runs: quick ? 1 : 3 }),
  },
  {
    name: 'memory',
    title: 'Agent memory (the real process, as deployed)',
    run: ({ quick, log }) => benchMemory({ minutes: quick ? 1 : 10, log }),
  },
  {
    name: 'memory-breakdown',
    title: 'Agent anonymous memory, one setting changed at a time',
    run: ({ quick, log }) => benchMemoryBreakdown({ log, seconds: quick ? 20 : 40 }),
  },
  {
    name: 'mqtt-packet-pool',
    title: "mqtt-packet's remaining-length cache: Buffer pool memory held, its own writer vs the agent's",
    run: ({ quick }) => benchMqttPacketPool(quick ? { sizes: 100 } : {}),
  },
  {
    name: 'package-cost',
    title: 'What a library costs a lean process: fastify vs node:http, zod vs zod/mini',
    run: ({ quick }) => benchPackageCost({ rounds: quick ? 1 : 3 }),
  },
  {
    name: 'optimize',
    title: 'On-device derivations: size, parameters, FLOPs, latency and fidelity against fp32',
    run: ({ quick, log }) =>
      benchOptimize({
        log,
        ...(quick ? { rounds: 1, iterations: 5, models: [{ name: 'squeezenet1.1', source: 'fp32' }] } : {}),
      }),
  },
  {
    name: 'tune',
    title: 'The auto-tuner: cold tune, cached decision, decisions under constraints, stability, regret',
    run: ({ quick, log }) => benchTune({ quick, log }),
  },
  {
    name: 'battery',
    title:
      'The battery planner: plans at 4, 12 and 48 h per model (Pi 4 power model), predicted vs simulated life',
    run: ({ quick, log }) => benchBattery({ quick, log }),
  },
  {
    name: 'mqtt',
    title: 'MQTT reliability against a real Mosquitto',
    run: ({ quick, log }) =>
      benchMqtt({ log, ...(quick ? { outageS: 5, backlogRows: 2000, conflictS: 10 } : {}) }),
  },
];

const { values } = parseArgs({
  options: { only: { type: 'string' }, quick: { type: 'boolean' }, out: { type: 'string' } },
});
const only = values.only?.split(',').map((s) => s.trim());
const outDir = path.resolve(values.out ?? path.join(packageRoot(), 'bench'));
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

const machine = machineInfo();
const json: Record<string, unknown> = { machine };
const markdown: string[] = [
  '# edge-agent benchmark',
  '',
  `Measured ${machine.measuredAt} on ${machine.cpuModel} (${machine.logicalCpus} logical CPUs, ${Math.round(machine.totalMemoryBytes / 2 ** 30)} GiB), ` +
    `${machine.platform}, Node ${machine.node}, onnxruntime-node ${machine.onnxruntime}, load average ${machine.loadAverage1m.toFixed(2)} at start.`,
  '',
];
for (const section of SECTIONS) {
  if (only && !only.includes(section.name)) continue;
  log(`section ${section.name}`);
  const started = performance.now();
  const result = await section.run({ quick: values.quick ?? false, log });
  json[section.name] = {
    ...(result.json as object),
    durationS: Math.round((performance.now() - started) / 100) / 10,
  };
  // Sections that run alone carry their own heading; the combined report has one per section.
  markdown.push(`## ${section.title}`, '', result.markdown.replace(/^#+ .*\n+/, ''), '');
}
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(json, null, 2)}\n`);
writeFileSync(path.join(outDir, 'results.md'), `${markdown.join('\n')}\n`);
process.stdout.write(`${markdown.join('\n')}\n`);
log(`wrote ${path.join(outDir, 'results.json')} and results.md`);
