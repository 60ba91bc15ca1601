import type { Logger } from 'pino';
import { type Clock, isAbortError } from '../../clock.js';
import { errorMessage } from '../../errors.js';
import { type CandidateKey, sameCandidate } from '../types.js';
import type { MeasuredPower } from './energy.js';
import type { BatteryPlan } from './planner.js';
import { type BatteryState, drainWatts, type EnergyPoint, remainingEnergy } from './remaining.js';

/**
 * Keeps a battery plan true while the battery drains (docs/battery.md "Re-planning"). On battery it
 * plans at once, then re-plans every `everyMinutes`, when the measured drain departs from the plan's
 * draw by more than `drainMarginPercent` (the ratio is learned as a factor on the modelled draw: the
 * cold, an aged cell, a model that reads low), and on reaching battery-low; back on mains it hands back to the normal
 * objective. Hysteresis: a re-plan that keeps the variant and moves the draw by less than
 * `rateHysteresisPercent` (while the current rate still lasts) changes nothing, once the target
 * time is reached the plan runs on unchanged, and the drain is a
 * regression over a window that starts when the rate last changed. Every re-plan is an event with
 * its trigger, reason and predicted end time.
 */

export interface ReplanOptions {
  targetHours: number;
  everyMinutes: number;
  drainMarginPercent: number;
  drainWindowMinutes: number;
  rateHysteresisPercent: number;
  lowBatteryPercent: number;
  batteryWh?: number | undefined;
  /** How often the battery is read (ms). */
  checkIntervalMs: number;
}

export interface PlanRequest {
  remainingWh: number;
  targetHours: number;
  /** The learned real-over-modelled drain factor (1 until a drain re-plan). */
  drainFactor: number;
  /** The candidate of the plan in force (the planner keeps it within its switch margin). */
  current: CandidateKey | null;
}

export interface ReplannerDeps {
  clock: Clock;
  log?: Pick<Logger, 'info' | 'warn'>;
  readBattery: () => Promise<BatteryState>;
  plan: (req: PlanRequest) => BatteryPlan;
  apply: (plan: BatteryPlan) => Promise<void>;
  /** Back on mains: the normal objective and pacing. */
  restore: () => Promise<void>;
  events: { emit(type: string, data: Record<string, unknown>): void };
  options: ReplanOptions;
  /** Changes when the candidates change (a new tuner decision): re-plan at the next check. */
  inputsVersion?: () => string;
  /** Measures the energy model while the agent runs (live-power-monitor.ts); started and stopped here. */
  monitor?: { start(signal?: AbortSignal): void; stop(): void; measured?(): MeasuredPower } | undefined;
}

export type ReplanTrigger = 'on-battery' | 'periodic' | 'drain' | 'battery-low' | 'mains' | 'candidates';

export interface ReplanRecord {
  atMs: number;
  trigger: ReplanTrigger;
  changed: boolean;
  met: boolean;
  reason: string;
  ratePerS: number;
  variant: string | null;
  predictedHours: number;
  predictedEndMs: number;
  targetEndMs: number;
  /** Energy left when the plan was made (Wh) and the draw the plan in force predicts (W). */
  remainingWh?: number;
  averageW?: number;
  energySource?: string;
  measuredW?: number;
  plannedW?: number;
}

/** One reading of the battery's energy (the dashboard's measured line). */
export interface EnergySample {
  atMs: number;
  wh: number;
  percent?: number;
}

export interface BatteryStatus {
  active: boolean;
  plan?: BatteryPlan;
  predictedHours?: number;
  predictedEndMs?: number;
  targetEndMs?: number;
  remainingWh?: number;
  measuredDrainW?: number;
  plannedDrainW?: number;
  /** The figures measured in the running agent so far (idle, camera, J per inference, duty frame). */
  measuredPower?: MeasuredPower;
}

const rateOf = (p: BatteryPlan) => p.inferencesPerHour / 3600;

export class BatteryReplanner {
  private plan: BatteryPlan | undefined;
  private startedAtMs = 0;
  private lastPlanAtMs = 0;
  private lastAppliedAtMs = 0;
  private drainFactor = 1;
  private points: EnergyPoint[] = [];
  private lowDone = false;
  private targetDone = false;
  private inputsAtPlan = '';
  private missingWarned = false;
  private predictedHours: number | undefined;
  private lastRemainingWh: number | undefined;
  private history: ReplanRecord[] = [];
  /** Energy readings on battery, one a minute at most (the dashboard's chart), newest last. */
  private energyLog: EnergySample[] = [];
  /** The energy source of the plan the drain factor was learned on. */
  private factorSource: string | undefined;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly deps: ReplannerDeps) {}

  start(signal?: AbortSignal): void {
    this.abort = new AbortController();
    const s = this.abort.signal;
    signal?.addEventListener('abort', () => this.abort?.abort(), { once: true });
    this.deps.monitor?.start(s);
    this.loop = (async () => {
      while (!s.aborted) {
        await this.tick().catch((err) =>
          this.deps.log?.warn({ err: errorMessage(err) }, 'battery re-plan failed'),
        );
        try {
          await this.deps.clock.sleep(this.deps.options.checkIntervalMs, s);
        } catch (err) {
          if (!isAbortError(err)) throw err;
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    this.deps.monitor?.stop();
    await this.loop;
  }

  /** The battery's energy readings since going on battery (one a minute at most, last 24 h). */
  energyHistory(): readonly EnergySample[] {
    return this.energyLog;
  }

  /** Every re-plan so far (tests, the bench). */
  replans(): readonly ReplanRecord[] {
    return this.history;
  }

  status(): BatteryStatus {
    if (!this.plan) return { active: false };
    const now = this.deps.clock.now();
    const measured = this.measuredDrain(now);
    const live = this.deps.monitor?.measured?.();
    return {
      active: true,
      plan: this.plan,
      ...(this.predictedHours !== undefined
        ? {
            predictedHours: this.predictedHours,
            predictedEndMs: this.lastPlanAtMs + this.predictedHours * 3.6e6,
          }
        : {}),
      targetEndMs: this.startedAtMs + this.deps.options.targetHours * 3.6e6,
      ...(this.lastRemainingWh !== undefined ? { remainingWh: this.lastRemainingWh } : {}),
      ...(measured !== undefined ? { measuredDrainW: measured } : {}),
      plannedDrainW: this.plan.averageW,
      ...(live && Object.keys(live).length ? { measuredPower: live } : {}),
    };
  }

  /** One check: read the battery, re-plan when a trigger fires. */
  async tick(): Promise<void> {
    const o = this.deps.options;
    const now = this.deps.clock.now();
    const state = await this.deps.readBattery();
    if (state.powerSource !== 'battery') {
      if (this.plan) await this.handBack(now, state.powerSource);
      return;
    }
    const rem = remainingEnergy(state.battery, o.batteryWh);
    if (!rem) {
      if (!this.missingWarned) {
        this.missingWarned = true;
        this.deps.events.emit('battery-plan', {
          trigger: 'on-battery',
          met: false,
          reason: 'on battery, but the battery reports no energy figure: set power.batteryWh to plan',
        });
      }
      return;
    }
    this.lastRemainingWh = rem.wh;
    this.points.push({ timeMs: now, wh: rem.wh });
    if (!this.plan) this.energyLog = [];
    const lastLogged = this.energyLog[this.energyLog.length - 1];
    if (!lastLogged || now - lastLogged.atMs >= 60_000) {
      const percent = state.battery?.percent;
      this.energyLog.push({ atMs: now, wh: rem.wh, ...(percent !== undefined ? { percent } : {}) });
      if (this.energyLog.length > 1440) this.energyLog.shift();
    }
    const keepFrom = now - 2 * o.drainWindowMinutes * 60_000;
    if (this.points.length > 4 && this.points[0]!.timeMs < keepFrom)
      this.points = this.points.filter((p) => p.timeMs >= keepFrom);

    if (!this.plan) {
      this.startedAtMs = now;
      this.lowDone = false;
      this.targetDone = false;
      return this.replan(now, rem.wh, 'on-battery');
    }
    if (now >= this.startedAtMs + o.targetHours * 3.6e6) {
      // The target is reached: the plan runs on as it is (re-planning for zero hours left would
      // only swing the rate); mains still hands back.
      if (!this.targetDone) {
        this.targetDone = true;
        this.deps.events.emit('battery-plan', {
          trigger: 'target-reached',
          met: true,
          reason: `ran the target ${o.targetHours} h on battery with ${rem.wh.toFixed(1)} Wh left; the plan continues`,
        });
      }
      return;
    }
    if ((this.deps.inputsVersion?.() ?? '') !== this.inputsAtPlan)
      return this.replan(now, rem.wh, 'candidates');
    const percent = state.battery?.percent;
    if (!this.lowDone && percent !== undefined && percent <= o.lowBatteryPercent) {
      this.lowDone = true;
      return this.replan(now, rem.wh, 'battery-low');
    }
    const measured = this.measuredDrain(now);
    if (measured !== undefined) {
      const planned = this.plan.averageW;
      if (Math.abs(measured - planned) > (o.drainMarginPercent / 100) * planned) {
        // Learn the departure as a factor on the modelled draw (cold, an aged cell, a model that
        // reads low): the modelled watts of every later plan count this many times, so a lower
        // rate saves in proportion, as the battery will see it.
        this.drainFactor = Math.min(10, Math.max(0.2, this.drainFactor * (measured / planned)));
        this.factorSource = this.plan.energy.source;
        return this.replan(now, rem.wh, 'drain', { measuredW: measured, plannedW: planned });
      }
    }
    if (now - this.lastPlanAtMs >= o.everyMinutes * 60_000) return this.replan(now, rem.wh, 'periodic');
  }

  /** The drain since the rate last changed, once a whole window has passed. */
  private measuredDrain(now: number): number | undefined {
    const windowMs = this.deps.options.drainWindowMinutes * 60_000;
    if (now - this.lastAppliedAtMs < windowMs) return undefined;
    const since = this.points.filter((p) => p.timeMs >= this.lastAppliedAtMs);
    return drainWatts(since, windowMs, now);
  }

  private async replan(
    now: number,
    remainingWh: number,
    trigger: ReplanTrigger,
    drain?: { measuredW: number; plannedW: number },
  ): Promise<void> {
    const o = this.deps.options;
    this.inputsAtPlan = this.deps.inputsVersion?.() ?? '';
    const hoursLeft = Math.max(0.05, o.targetHours - (now - this.startedAtMs) / 3.6e6);
    const request = () =>
      this.deps.plan({
        remainingWh,
        targetHours: hoursLeft,
        drainFactor: this.drainFactor,
        current: this.plan?.chosen ?? null,
      });
    let next = request();
    if (this.drainFactor !== 1 && this.factorSource && next.energy.source !== this.factorSource) {
      // The factor corrected an estimated model; measured figures replace it (and vice versa):
      // start again from the new model, the next drain check learns what is still off.
      this.drainFactor = 1;
      this.factorSource = undefined;
      next = request();
    }
    const current = this.plan;
    let changed = true;
    let predictedHours = next.predictedHours;
    if (
      current &&
      trigger !== 'drain' &&
      trigger !== 'candidates' &&
      sameCandidate(current.chosen, next.chosen)
    ) {
      // Hysteresis: the current rate stays while it is close to the new one and still lasts.
      // Compared in watts, not in rate: on a board whose idle draw dominates, the rate is a small
      // residue of the budget and swings with every reading, while the draw barely moves.
      const currentW = (current.averageW / (current.energy.drainFactor || 1)) * this.drainFactor;
      const lifeAtCurrent = currentW > 0 ? remainingWh / currentW : Number.POSITIVE_INFINITY;
      const close = Math.abs(next.averageW - currentW) <= (o.rateHysteresisPercent / 100) * currentW;
      // A shortfall of up to 1 % of the whole target is tolerated (minutes over a day).
      const lasts = lifeAtCurrent >= hoursLeft - 0.01 * o.targetHours;
      if (close && (lasts || !next.met)) {
        changed = false;
        predictedHours = Number(lifeAtCurrent.toFixed(2));
      }
    }
    if (changed) {
      await this.deps.apply(next);
      this.plan = next;
      this.lastAppliedAtMs = now;
    }
    this.lastPlanAtMs = now;
    this.predictedHours = predictedHours;
    const shown = changed ? next : current!;
    const record: ReplanRecord = {
      atMs: now,
      trigger,
      changed,
      met: next.met,
      reason: next.reason,
      ratePerS: rateOf(shown),
      variant: shown.chosen?.variant ?? null,
      predictedHours,
      predictedEndMs: now + predictedHours * 3.6e6,
      targetEndMs: this.startedAtMs + o.targetHours * 3.6e6,
      remainingWh: Number(remainingWh.toFixed(3)),
      averageW: changed ? next.averageW : Number((remainingWh / Math.max(1e-6, predictedHours)).toFixed(3)),
      energySource: shown.energy.source,
      ...(drain ?? {}),
    };
    this.history.push(record);
    this.deps.log?.info(
      { trigger, changed, met: next.met, predictedHours, rate: record.ratePerS },
      'battery plan',
    );
    this.deps.events.emit('battery-plan', {
      ...record,
      predictedEnd: new Date(record.predictedEndMs).toISOString(),
      targetEnd: new Date(record.targetEndMs).toISOString(),
      plan: shown,
    });
  }

  private async handBack(now: number, source: string): Promise<void> {
    await this.deps.restore();
    const record: ReplanRecord = {
      atMs: now,
      trigger: 'mains',
      changed: true,
      met: true,
      reason: `power source is ${source}: the normal objective again`,
      ratePerS: 0,
      variant: null,
      predictedHours: 0,
      predictedEndMs: now,
      targetEndMs: this.startedAtMs + this.deps.options.targetHours * 3.6e6,
    };
    this.history.push(record);
    this.deps.events.emit('battery-plan', { ...record });
    this.plan = undefined;
    this.predictedHours = undefined;
    this.points = [];
    this.drainFactor = 1;
    this.factorSource = undefined;
  }
}
