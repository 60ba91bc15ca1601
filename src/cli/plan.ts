import { systemClock } from '../clock.js';
import { UsageError } from '../errors.js';
import { planCandidates, planJson, sensorIdlePower } from '../tuner/battery/from-tuner.js';
import { type BatteryPlan, planBatteryLife } from '../tuner/battery/planner.js';
import { powerModelFor } from '../tuner/battery/power-model.js';
import { remainingEnergy } from '../tuner/battery/remaining.js';
import { progressLine, tunerFromConfig } from '../tuner/setup.js';
import { type Command, formatTable, parseCommandArgs, writeJson } from './command.js';
import { openCliStore, profileWithProgress, setupCli } from './shared.js';

export const planCommand: Command = {
  name: 'plan',
  summary: 'Plan variant, threads and rate to keep running N hours on the battery (docs/battery.md)',
  usage:
    'edge-agent plan --hours N [--model NAME] [--wh WH] [--min-fps F] [--max-interval-s S] [--json] [--quiet] [--config FILE]',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, {
      hours: { type: 'string' },
      model: { type: 'string' },
      wh: { type: 'string' },
      'min-fps': { type: 'string' },
      'max-interval-s': { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      config: { type: 'string', short: 'c' },
    });
    if (positionals.length > 0)
      throw new UsageError(`plan: unexpected argument "${positionals[0]}"\nusage: ${this.usage}`);
    const num = (v: string | undefined, flag: string, max: number) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0 || n > max)
        throw new UsageError(`plan: ${flag} expects a number in (0, ${max}], got "${v}"`);
      return n;
    };
    const setup = await setupCli(ctx, values.config);
    const { config } = setup.loaded;
    const targetHours = num(values.hours, '--hours', 8760) ?? config.policy.batteryHours;
    if (targetHours === undefined)
      throw new UsageError(`plan: --hours N is required (or policy.batteryHours)\nusage: ${this.usage}`);
    const whFlag = num(values.wh, '--wh', 100_000);
    const minFps = num(values['min-fps'], '--min-fps', 240) ?? config.policy.minFps;
    const maxIntervalS =
      num(values['max-interval-s'], '--max-interval-s', 86_400) ?? config.policy.maxIntervalS;
    const model = values.model ?? config.models.default;
    setup.catalog.model(model); // unknown names fail here, before profiling
    const { progress, profile } = await profileWithProgress(ctx, setup, values.quiet);
    const battery = profile.power.battery;
    const fromBattery = whFlag === undefined ? remainingEnergy(battery, config.power.batteryWh) : undefined;
    const remainingWh = whFlag ?? fromBattery?.wh ?? config.power.batteryWh;
    if (remainingWh === undefined)
      throw new UsageError(
        'plan: no battery energy to plan with: this device reports no battery energy; pass --wh WH or set power.batteryWh',
      );
    const energyNote =
      whFlag !== undefined
        ? `${whFlag} Wh (--wh)`
        : fromBattery
          ? `${fromBattery.wh.toFixed(1)} Wh (${fromBattery.source})`
          : `${remainingWh} Wh (power.batteryWh, assumed full: no battery reading)`;

    const store = openCliStore(setup);
    try {
      const tuner = tunerFromConfig({
        config,
        profile,
        catalog: () => setup.catalog,
        store,
        clock: systemClock,
        log: setup.log,
      });
      // The measurements (cached when the device was tuned before); the plan itself is pure.
      const decision = await tuner.tune({
        model,
        overrides: { objective: 'battery-life' },
        derive: 'never',
        record: false,
        trigger: 'plan',
        onProgress: (p) => progress(progressLine(p)),
      });
      const power = powerModelFor(profile.board.family, !!battery, config.power.model);
      const plan = planBatteryLife({
        candidates: planCandidates(decision.candidates),
        targetHours,
        remainingWh,
        power,
        cores: Math.max(1, profile.cpu.cores),
        measured: sensorIdlePower(profile),
        minFps,
        maxIntervalS,
        fidelityFloor: config.policy.fidelityFloor,
      });
      if (values.json) writeJson(ctx.stdout, planJson(plan));
      else ctx.stdout.write(`${describe(plan, model, energyNote)}\n`);
      // 2 is a usage error; 3 says "planned, but the target cannot be met".
      return plan.met ? 0 : 3;
    } finally {
      await store.stop();
    }
  },
};

function describe(p: BatteryPlan, model: string, energyNote: string): string {
  const rate = p.mode === 'continuous' ? `${p.fps} fps` : `one frame every ${p.intervalS} s, camera released`;
  const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '∞');
  const rows = p.candidates.map((c) => [
    c.verdict === 'chosen' ? `* ${c.variant}` : `  ${c.variant}`,
    c.executionProvider,
    String(c.threads),
    c.fidelity.toFixed(3),
    f(c.ratePerS * 3600, 0),
    f(c.averageW),
    f(c.predictedHours, 1),
    c.verdict,
    c.reason,
  ]);
  return [
    `${model}: ${p.targetHours} h on ${energyNote} → ${p.chosen ? `${p.chosen.variant} on ${p.chosen.executionProvider}, ${p.chosen.threads} thread(s), ${rate}` : 'nothing'}`,
    `predicted ${f(p.predictedHours, 1)} h at ${f(p.averageW)} W${p.met ? '' : '  [target NOT met]'}; energy ${p.energy.source.toUpperCase()} (${p.energy.basis})`,
    p.reason,
    '',
    formatTable(['variant', 'ep', 'thr', 'fidelity', 'inf/h', 'W', 'hours', 'verdict', 'reason'], rows),
  ].join('\n');
}
