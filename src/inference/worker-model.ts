import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { EdgeAgentError, errorMessage, ModelLoadError } from '../errors.js';
import type { ImageLimits } from '../image/limits.js';
import type { RawImage } from '../image/types.js';
import type { Logger } from '../log.js';
import type { CatalogVariant, ModelEntry } from '../models/catalog.js';
import { readLabels } from '../models/catalog.js';
import { readVerified } from '../models/integrity.js';
import { effectiveInputSpec, type InputSpec } from '../models/manifest.js';
import { packageRoot } from '../paths.js';
import { inferEncodedImage, inferImage } from './infer-image.js';
import { LoadedVariant } from './loaded-variant.js';
import type { LoadModelOptions } from './model.js';
import type { OutputTensor } from './postprocess.js';
import { type ExecutionProvider, sessionOptionsFor } from './session.js';
import { disableOnnxruntimeTelemetry } from './telemetry-off.js';
import {
  type Recycle,
  type RunReply,
  TensorClient,
  type TensorData,
  type WorkerTimes,
} from './tensor-client.js';
import type { InferenceResult } from './types.js';

export type { Recycle, WorkerTimes } from './tensor-client.js';

function workerScript(): string {
  const here = path.join(path.dirname(fileURLToPath(import.meta.url)), 'session-worker.mjs');
  if (existsSync(here)) return here;
  // Compiled to dist/: the plain-JS worker ships in src/.
  const shipped = path.join(packageRoot(), 'src', 'inference', 'session-worker.mjs');
  if (existsSync(shipped)) return shipped;
  throw new EdgeAgentError(`inference worker script not found (looked in ${here} and ${shipped})`);
}

/**
 * A model variant whose onnxruntime session lives in a worker thread: `run` moves the input tensor
 * to the worker (no copy) and resolves with the outputs while the event loop stays free for
 * capture, HTTP and MQTT. Same surface as `InferenceModel` (pre/post-processing on the caller).
 */
export class WorkerModel extends LoadedVariant {
  private readonly client: TensorClient;
  private stopped: string | undefined;

  private constructor(
    entry: ModelEntry,
    variant: CatalogVariant,
    input: InputSpec,
    labels: readonly string[],
    private readonly worker: Worker,
    executionProvider: ExecutionProvider,
    sessionCreateMs: number,
    private readonly log?: Logger,
  ) {
    super(entry, variant, input, labels, executionProvider, sessionCreateMs);
    this.client = new TensorClient(worker, input.name);
    worker.on('message', (msg: WorkerReply) => this.client.onMessage(msg));
    worker.on('error', (err) => this.fail(`inference worker crashed: ${errorMessage(err)}`));
    worker.on('exit', (code) => this.fail(`inference worker exited (code ${code})`));
  }

  static async load(options: LoadModelOptions): Promise<WorkerModel> {
    disableOnnxruntimeTelemetry(); // in the real environment, before the worker's first session
    const { model: entry, variant } = options.catalog.variant(options.model, options.variant);
    const bytes = await readVerified(variant.path, variant.sha256, variant.bytes);
    const labels = await readLabels(entry);
    const input = effectiveInputSpec(entry.manifest.input, variant);
    const wanted = [...(options.session?.executionProviders ?? ['cpu'])];
    if (!wanted.includes('cpu')) wanted.push('cpu');
    const attempts = wanted.map((provider) => ({
      provider,
      options: sessionOptionsFor(provider, options.session ?? {}),
    }));
    const model = new Uint8Array(bytes);
    const worker = new Worker(workerScript(), {
      workerData: { model, attempts },
      // The worker only moves tensors: a small young generation keeps its heap (and RSS) small.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
      transferList: [model.buffer],
    });
    const ready = await new Promise<ReadyReply>((resolve, reject) => {
      const onMessage = (msg: WorkerReply) => {
        cleanup();
        if (msg.type === 'ready') resolve(msg);
        else
          reject(
            new ModelLoadError(
              `${variant.path}: onnxruntime cannot load it (${msg.type === 'failed' ? msg.message : msg.type})`,
            ),
          );
      };
      const onError = (err: Error) => {
        cleanup();
        reject(
          new ModelLoadError(`${variant.path}: inference worker failed to start: ${errorMessage(err)}`, {
            cause: err,
          }),
        );
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
    if (ready.rejected.length > 0)
      options.log?.warn(
        { executionProvider: ready.executionProvider, rejected: ready.rejected },
        'execution provider fallback',
      );
    if (!ready.inputNames.includes(input.name)) {
      await worker.terminate();
      throw new ModelLoadError(
        `${variant.path}: manifest input "${input.name}" is not a model input (${ready.inputNames.join(', ')})`,
      );
    }
    options.log?.debug(
      {
        model: entry.manifest.name,
        variant: variant.id,
        executionProvider: ready.executionProvider,
        createMs: ready.createMs,
      },
      'model loaded in an inference worker',
    );
    return new WorkerModel(
      entry,
      variant,
      input,
      labels,
      worker,
      ready.executionProvider,
      ready.createMs,
      options.log,
    );
  }

  /**
   * Runs the session on a prepared tensor. The tensor's buffer moves to the worker and is handed
   * back through `recycle`; without `recycle` a copy is sent and the caller keeps its buffer.
   */
  run(
    input: { data: TensorData; dims: readonly number[] },
    recycle?: Recycle,
  ): Promise<Record<string, OutputTensor>> {
    if (this.stopped) return Promise.reject(new EdgeAgentError(this.stopped));
    return this.client.run(input, recycle);
  }

  /**
   * A port another thread runs this session through (the pipeline worker), with the same
   * protocol as `run`: its tensors and outputs go straight between the two workers.
   */
  openPort(): MessagePort {
    if (this.stopped) throw new EdgeAgentError(this.stopped);
    const { port1, port2 } = new MessageChannel();
    this.worker.postMessage({ type: 'port', port: port1 }, [port1]);
    return port2;
  }

  /**
   * Totals since load, measured inside the worker: `runMs` is `session.run` alone, `idleMs` the time
   * the worker waited for its next request after replying (0 while requests are queued). When
   * frames are fed as fast as possible, idleMs per run is the caller's overhead as the model sees it.
   */
  workerTimes(): WorkerTimes {
    return this.client.times();
  }

  infer(image: RawImage): Promise<InferenceResult> {
    return inferImage(this, image);
  }

  /** Decodes an encoded image (or a file path) and infers; decode time counts as preprocessing. */
  inferEncoded(input: Buffer | string, limits?: ImageLimits): Promise<InferenceResult> {
    return inferEncodedImage(this, input, limits);
  }

  /** Releases the session and ends the worker (terminated if it does not finish in 5 s). */
  async dispose(): Promise<void> {
    if (this.stopped) return;
    this.stopped = 'model disposed';
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'release' });
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }

  private fail(reason: string): void {
    if (!this.stopped) {
      this.stopped = reason;
      this.log?.error({ model: this.name, variant: this.variant.id, reason }, 'inference worker stopped');
    }
    this.client.fail(reason);
  }
}

interface ReadyReply {
  type: 'ready';
  executionProvider: ExecutionProvider;
  rejected: Array<{ provider: string; reason: string }>;
  inputNames: string[];
  outputNames: string[];
  createMs: number;
}

type WorkerReply = ReadyReply | { type: 'failed'; message: string } | RunReply;
