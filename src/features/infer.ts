import { ImageDecodeError } from '../errors.js';
import { ACCEPTED_IMAGES_TEXT, type ImageLimits } from '../image/limits.js';
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
  // Accepted as bodies so the sniffer names them in its 415 (BMP is not decodable here).
  'image/bmp',
  'image/x-ms-bmp',
  'application/octet-stream',
];

export interface InferFeatureDeps {
  /** Runs a function on the active model (the Pipeline class provides it). */
  pipeline: { withModel<T>(fn: (model: PipelineModel) => Promise<T>): Promise<T> };
  /** Largest accepted image (http.inferMaxBytes). */
  maxBytes: number;
  /** What may be decoded (inference.maxInputPixels); the default limit when absent. */
  imageLimits?: ImageLimits;
  /** Requests decoded and inferred at once (http.inferConcurrency); more get 429. Default 1. */
  concurrency?: number;
}

/** `POST /api/infer`: an uploaded image through the active model. */
export function inferFeature(deps: InferFeatureDeps): Feature {
  // Each request decodes a whole image: a bound on how many at once bounds the memory they take.
  const maxInferring = deps.concurrency ?? 1;
  let inferring = 0;
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
          return reply.code(415).send({ error: `send the image bytes: ${ACCEPTED_IMAGES_TEXT}` });
        }
        if (body.length === 0) {
          throw new ImageDecodeError(`empty body: send the image bytes: ${ACCEPTED_IMAGES_TEXT}`);
        }
        if (inferring >= maxInferring) {
          reply.header('Retry-After', '1');
          return reply.code(429).send({
            error: `busy: ${inferring} image${inferring === 1 ? '' : 's'} already being inferred (http.inferConcurrency ${maxInferring}); retry later`,
          });
        }
        inferring++;
        try {
          const result = await deps.pipeline.withModel((model) => model.inferEncoded(body, deps.imageLimits));
          return inferenceJson(result);
        } finally {
          inferring--;
        }
      });
    },
  };
}
