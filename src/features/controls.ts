import { type Controls, controlsPatchSchema } from '../agent/controls.js';
import { errorMessage } from '../errors.js';
import { defineCommand, formatZodIssues } from '../fleet/router.js';
import * as z from '../zod.js';
import type { Feature } from './feature.js';

/**
 * The live controls shared by Home Assistant and the dashboard (src/agent/controls.ts):
 * `set-inference` / `get-controls` over MQTT (set-fps, set-model and restart are the pacing,
 * models and device features' commands), and `GET|POST /api/controls`, `POST /api/controls/restart`
 * for the dashboard. The POST routes take JSON only, so a cross-site form cannot post to them; the
 * server's token hook guards them like the rest of /api.
 */
export function controlsFeature(deps: { controls: Controls }): Feature {
  const { controls } = deps;
  return {
    name: 'controls',
    commands: {
      'set-inference': defineCommand({
        summary: 'Switches inference on or off (off releases the camera); the pacing is restored on',
        params: z.strictObject({ enabled: z.boolean() }),
        mutates: true,
        run: ({ enabled }: { enabled: boolean }) => {
          controls.setInference(enabled);
          return controls.state();
        },
      }),
      'get-controls': defineCommand({
        summary: 'Inference on/off, target fps, active variant and the variants to choose from',
        params: z.strictObject({}),
        mutates: false,
        run: () => controls.state(),
      }),
    },
    routes: (app) => {
      app.get('/api/controls', async (_req, reply) => {
        const state = controls.state();
        if (!state)
          return reply.code(503).send({ error: 'controls are not available (pipeline not running)' });
        return state;
      });

      app.post('/api/controls', async (req, reply) => {
        if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
          return reply.code(415).send({ error: 'send a JSON object with Content-Type application/json' });
        const parsed = controlsPatchSchema.safeParse(req.body);
        if (!parsed.success) return reply.code(400).send({ error: formatZodIssues(parsed.error) });
        return controls.apply(parsed.data);
      });

      app.post('/api/controls/retune', async (req, reply) => {
        if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
          return reply.code(415).send({ error: 'send {} with Content-Type application/json' });
        try {
          controls.retune('dashboard');
        } catch (err) {
          return reply.code(501).send({ error: errorMessage(err) });
        }
        return { tuning: true };
      });

      app.post('/api/controls/restart', async (req, reply) => {
        if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
          return reply.code(415).send({ error: 'send {} with Content-Type application/json' });
        // After the answer is sent: the agent stops, and the service manager starts it again.
        reply.raw.once('finish', () => controls.restart('dashboard'));
        return { restarting: true };
      });
    },
  };
}
