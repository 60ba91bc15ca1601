import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { systemClock } from '../clock.js';
import { UsageError } from '../errors.js';
import { powerModeOptions } from '../tuner/constraints.js';
import { isObjective, OBJECTIVE_IDS } from '../tuner/objectives.js';
import { decisionSvg } from '../tuner/plot.js';
import { decisionJson, modeFromProfile } from '../tuner/report.js';
import { latestDecision, progressLine, tunerFromConfig } from '../tuner/setup.js';
import { catalogueHash } from '../tuner/tuner.js';
import type { Decision } from '../tuner/types.js';
import { type Command, formatTable, parseCommandArgs, writeJson } from './command.js';
import { runningAgentUrl } from './running-agent.js';
import { openCliStore, profileWithProgress, setupCli } from './shared.js';

export const tuneCommand: Command = {
  name: 'tune',
  summary: 'Measure the variants on this device and choose (or derive) the one that fits the policy',
  usage:
    `edge-agent tune [--model NAME] [--objective ${OBJECTIVE_IDS.join('|')}] [--latency-p95-ms N] [--min-fidelity F] ` +
    '[--max-memory-mb MB] [--derive auto|never] [--force] [--json] [--plot FILE.svg] [--frames DIR] [--quiet] [--config FILE]',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, {
      model: { type: 'string' },
      objective: { type: 'string' },
      'latency-p95-ms': { type: 'string' },
      'min-fidelity': { type: 'string' },
      'max-memory-mb': { type: 'string' },
      derive: { type: 'string' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
      plot: { type: 'string' },
      frames: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      config: { type: 'string', short: 'c' },
    });
    if (positionals.length > 0)
      throw new UsageError(`tune: unexpected argument "${positionals[0]}"\nusage: ${this.usage}`);
    const objective = values.objective;
    if (objective !== undefined && !isObjective(objective))
      throw new UsageError(
        `tune: --objective must be one of ${OBJECTIVE_IDS.join(', ')}, got "${objective}"`,
      );
    const num = (v: string | undefined, flag: string, min: number, max = Number.POSITIVE_INFINITY) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || n > max || (min > 0 && n === 0))
        throw new UsageError(`tune: ${flag} expects a number in [${min}, ${max}], got "${v}"`);
      return n;
    };
    const latencyP95Ms = num(values['latency-p95-ms'], '--latency-p95-ms', Number.MIN_VALUE);
    const fidelityFloor = num(values['min-fidelity'], '--min-fidelity', 0, 1);
    const childMemoryMB = num(values['max-memory-mb'], '--max-memory-mb', Number.MIN_VALUE);
    const derive = values.derive;
    if (derive !== undefined && derive !== 'auto' && derive !== 'never')
      throw new UsageError(`tune: --derive must be auto or never, got "${derive}"`);

    const setup = await setupCli(ctx, values.config);
    let catalog = setup.catalog;
    const { tuning } = setup.loaded.config.policy;
    const config =
      childMemoryMB === undefined
        ? setup.loaded.config
        : {
            ...setup.loaded.config,
            policy: { ...setup.loaded.config.policy, tuning: { ...tuning, childMemoryMB } },
          };
    const model = values.model ?? config.models.default;
    catalog.model(model); // unknown names fail here, before profiling
    const { progress, profile } = await profileWithProgress(ctx, setup, values.quiet);
    const store = openCliStore(setup);
    try {
      const { loadCatalog } = await import('../models/catalog.js');
      const tuner = tunerFromConfig({
        config,
        profile,
        catalog: () => catalog,
        reloadCatalog: async () => {
          catalog = await loadCatalog({
            modelsDir: config.models.dir,
            dataDir: config.dataDir,
            log: setup.log,
          });
          return catalog;
        },
        store,
        clock: systemClock,
        log: setup.log,
        framesDir: values.frames ? path.resolve(ctx.cwd, values.frames) : undefined,
      });
      const previous = latestDecision(store, model, profile.fingerprint, catalogueHash(catalog.model(model)));
      const decision = await tuner.tune({
        model,
        mode: modeFromProfile(profile, powerModeOptions(config.policy)),
        overrides: {
          ...(objective ? { objective } : {}),
          ...(latencyP95Ms !== undefined ? { latencyP95Ms } : {}),
          ...(fidelityFloor !== undefined ? { fidelityFloor } : {}),
        },
        ...(derive ? { derive } : {}),
        force: values.force ?? false,
        current: previous?.chosen ?? null,
        trigger: 'cli',
        onProgress: (p) => progress(progressLine(p)),
      });
      if (values.plot) {
        writeFileSync(path.resolve(ctx.cwd, values.plot), decisionSvg(decision));
        progress(`wrote ${values.plot}`);
      }
      if (values.json) writeJson(ctx.stdout, decisionJson(decision));
      else ctx.stdout.write(`${describe(decision)}\n`);
      const agent = values.quiet ? undefined : await runningAgentUrl(config.http);
      if (agent)
        ctx.stderr.write(
          `note: an agent is running here (${agent}) and keeps serving what it chose: it serves this decision ` +
            "after a restart; to have it measure and apply now, use its dashboard's re-tune " +
            `(POST ${agent}/api/controls/retune) or the MQTT "tune" command.\n`,
        );
      return decision.chosen ? 0 : 1;
    } finally {
      await store.stop();
    }
  },
};

function describe(d: Decision): string {
  const f = (v: number | undefined, digits = 1) => (v === undefined ? '-' : v.toFixed(digits));
  const rows = d.candidates.map((c) => [
    c.verdict === 'chosen' ? `* ${c.variant}` : `  ${c.variant}`,
    c.executionProvider,
    String(c.threads),
    c.latencyMs ? `${f(c.latencyMs.p50)}/${f(c.latencyMs.p95)}/${f(c.latencyMs.p99)}` : '-',
    c.prepareMs !== undefined ? f(c.prepareMs, 2) : '-',
    c.cpuMsPerInference !== undefined ? f(c.cpuMsPerInference) : '-',
    c.energyPerInferenceJ !== undefined ? f(c.energyPerInferenceJ, 3) : '-',
    c.memoryBytes !== undefined ? f(c.memoryBytes / 1048576, 0) : '-',
    c.fidelity !== undefined ? c.fidelity.toFixed(3) : '-',
    c.verdict,
    c.reason.length > 90 ? `${c.reason.slice(0, 89)}…` : c.reason,
  ]);
  return [
    `${d.model}: ${d.objective} (${d.mode}) → ${d.chosen ? `${d.chosen.variant} on ${d.chosen.executionProvider}, ${d.chosen.threads} thread(s)` : 'nothing'}${d.met ? '' : '  [constraints NOT met]'}`,
    d.reason,
    '',
    formatTable(
      [
        'variant',
        'ep',
        'thr',
        'p50/p95/p99 ms',
        'prep ms',
        'cpu ms',
        'J',
        'MB',
        'fidelity',
        'verdict',
        'reason',
      ],
      rows,
    ),
    d.derived.length ? `\nderived: ${d.derived.join(', ')}` : '',
    `took ${(d.tookMs / 1000).toFixed(1)} s`,
  ].join('\n');
}
