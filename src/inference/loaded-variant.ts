import type { CatalogVariant, ModelEntry } from '../models/catalog.js';
import type { DecoderSpec, InputSpec } from '../models/manifest.js';
import type { ExecutionProvider } from './session.js';

/**
 * What every loaded variant is, wherever its session runs (`InferenceModel` in this thread,
 * `WorkerModel` in a worker): the catalogue entry, the verified variant and how its session opened.
 */
export abstract class LoadedVariant {
  protected constructor(
    readonly entry: ModelEntry,
    readonly variant: CatalogVariant,
    readonly input: InputSpec,
    readonly labels: readonly string[],
    readonly executionProvider: ExecutionProvider,
    readonly sessionCreateMs: number,
  ) {}

  get name(): string {
    return this.entry.manifest.name;
  }

  get task(): 'classification' | 'detection' {
    return this.entry.manifest.task;
  }

  get decoder(): DecoderSpec {
    return this.entry.manifest.decoder;
  }
}
