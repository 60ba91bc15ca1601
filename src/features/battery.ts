import type { BatteryReplanner } from '../tuner/battery/replanner.js';
import type { Feature } from './feature.js';

export interface BatteryFeatureDeps {
  replanner: BatteryReplanner;
}

/**
 * The battery plan from outside (docs/battery.md): GET /api/battery (the plan in force, predicted
 * end, planned vs measured drain, every re-plan); the planner starts and stops with the feature.
 * Re-plans are `battery-plan` events; telemetry carries `batteryPredictedHours`.
 */
export function batteryFeature(deps: BatteryFeatureDeps): Feature {
  const { replanner } = deps;
  return {
    name: 'battery',
    routes: (app) => {
      app.get('/api/battery', async () => ({
        ...replanner.status(),
        replans: replanner.replans().slice(-50),
        // The dashboard's chart: the battery's energy readings (one a minute) next to the plans.
        history: replanner.energyHistory(),
      }));
    },
    start: (signal) => replanner.start(signal),
    stop: () => replanner.stop(),
  };
}
