/**
 * zod for the agent's schemas, as its functional API (`zod/mini`): `z.optional(s)`,
 * `s.check(z.minLength(1))`, `z._default(s, v)` in place of the classic API's method chains. Same
 * library, same parser, same messages; what it saves is the classic API's ~190 KB of bundled source
 * and its classes, loaded on every device at start (docs/memory.md, "Nineteenth round"). Import it as
 * `import * as z from '…/zod.js'`, never 'zod' itself, so that the English messages below are set
 * before any schema parses.
 */
import { config, type core, pipe, transform, type ZodMiniPipe, type ZodMiniTransform } from 'zod/mini';
import { en } from 'zod/v4/locales';

export * from 'zod/mini';

// zod/mini sets no locale of its own: without this, an issue's message is "Invalid input".
config(en());

/** The classic API's `z.preprocess`: `fn` runs on the raw input, then `schema` parses what it returns. */
export function preprocess<U extends core.SomeType>(
  fn: (input: unknown) => unknown,
  schema: U,
): ZodMiniPipe<ZodMiniTransform<unknown, unknown>, U> {
  return pipe(transform(fn), schema as never) as ZodMiniPipe<ZodMiniTransform<unknown, unknown>, U>;
}
