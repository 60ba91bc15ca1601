import { ImageDecodeError } from '../errors.js';
import { inferenceJson } from '../inference/json.js';
import type { PipelineModel } from '../pipeline/types.js';
import type { Feature } from './feature.js';

const IMAGE_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/tiff',
  'image/avif',
  'application/octet-stream',
];

export interface InferFeatureDeps {
  /** Runs a function on the active model (the Pipeline class provides it). */
  pipeline: { withModel<T>(fn: (model: PipelineModel) => Promise<T>): Promise<T> };
  /** Largest accepted image (http.inferMaxBytes). */
  maxBytes: number;
}

/** `POST /api/infer`: an uploaded image through the active model. */
export function inferFeature(deps: InferFeatureDeps): Feature {
  return {
    name: 'infer',
    routes: (app) => {
      app.addContentTypeParser(
        IMAGE_TYPES,
        { parseAs: 'buffer', bodyLimit: deps.maxBytes },
        (_req, body, done) => {
          done(null, body);
        },
      );
      app.post('/api/infer', { bodyLimit: deps.maxBytes }, async (req, reply) => {
        const body = req.body;
        if (!Buffer.isBuffer(body)) {
          return reply
            .code(415)
            .send({ error: 'send the image bytes with Content-Type image/jpeg, image/png or image/webp' });
        }
        if (body.length === 0) {
          throw new ImageDecodeError(
            'empty body: send the image bytes (JPEG, PNG, WebP) with Content-Type image/jpeg or image/png',
          );
        }
        const result = await deps.pipeline.withModel((model) => model.inferEncoded(body));
        return inferenceJson(result);
      });
    },
  };
}
