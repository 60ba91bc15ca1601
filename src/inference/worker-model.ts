import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { EdgeAgentError, ModelLoadError } from '../errors.js';
import type { ImageLimits } from '../image/limits.js';
import type { RawImage } from '../image/types.js';
import type { Logger } from '../log.js';
import type { CatalogVariant, ModelEntry } from '../models/catalog.js';
import { readLabels } from '../models/catalog.js';
import { readVerified } from '../models/integrity.js';
import { effectiveInputSpec, type InputSpec } from '../models/manifest.js';
import { inferEncodedImage, inferImage } from './infer-image.js';
import { LoadedVariant } from './loaded-variant.js';
import type { LoadModelOptions } from './model.js';
import type { OutputTensor } from './postprocess.js';
import { type ExecutionProvider, sessionOptionsFor } from './session.js';
import { hostedSession, type SessionHost, type SessionLink, sessionWorker } from './session-link.js';
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

/** `WorkerModel.load`'s options: where the session may be hosted besides a worker of its own. */
export interface WorkerModelOptions extends LoadModelOptions {
  /**
   * The pipeline worker, when the agent has one: the session is served in its thread instead of
   * a worker of its own (one V8 isolate less, docs/memory.md). Without one, or once its thread
   * has ended, the session gets its own worker.
   */
  host?: SessionHost | undefined;
}

/**
 * A model variant whose onnxruntime session lives in another thread — a worker of its own or the
 * pipeline worker hosting it: `run` moves the input tensor there (no copy) and resolves with the
 * outputs while this event loop stays free for capture, HTTP and MQTT. Same surface as
 * `InferenceModel` (pre/post-processing on the caller).
 */
export class WorkerModel extends LoadedVariant {
  private readonly client: TensorClient;
  private stopped: string | undefined;
  private releasedNow = false;

  private constructor(
    entry: ModelEntry,
    variant: CatalogVariant,
    input: InputSpec,
    labels: readonly string[],
    private readonly link: SessionLink,
    executionProvider: ExecutionProvider,
    sessionCreateMs: number,
    private readonly log?: Logger,
  ) {
    super(entry, variant, input, labels, executionProvider, sessionCreateMs);
    this.client = new TensorClient(link, input.name);
    link.onMessage((msg) => {
      if (msg.type !== 'released') this.client.onMessage(msg);
      else {
        const { error } = msg as { error?: string };
        this.releasedNow = error === undefined;
        if (error)
          log?.warn({ model: this.name, variant: variant.id, err: error }, 'releasing the session failed');
      }
    });
    link.onEnd((reason) => this.fail(reason));
  }

  static async load(options: WorkerModelOptions): Promise<WorkerModel> {
    // In the real environment (this thread's setenv), before the session's thread opens it.
    disableOnnxruntimeTelemetry();
    const { model: entry, variant } = options.catalog.variant(options.model, options.variant);
    const bytes = await readVerified(variant.path, variant.sha256, variant.bytes);
    const labels = await readLabels(entry);
    const input = effectiveInputSpec(entry.manifest.input, variant);
    const wanted = [...(options.session?.executionProviders ?? ['cpu'])];
    if (!wanted.includes('cpu')) wanted.push('cpu');
    const attempts = wanted.map((provider) => ({
      provider,
      options: sessionOptionsFor(provider, options.session ?? {}) as Record<string, unknown>,
    }));
    const session = { model: new Uint8Array(bytes), attempts };
    const port = options.host?.open(session);
    const link = port ? hostedSession(port) : sessionWorker(session);
    const ready = await new Promise<ReadyReply>((resolve, reject) => {
      const offMessage = link.onMessage((msg) => {
        cleanup();
        const reply = msg as WorkerReply;
        if (reply.type === 'ready') resolve(reply);
        else
          reject(
            new ModelLoadError(
              `${variant.path}: onnxruntime cannot load it (${reply.type === 'failed' ? reply.message : reply.type})`,
            ),
          );
      });
      const offEnd = link.onEnd((reason) => {
        cleanup();
        reject(new ModelLoadError(`${variant.path}: inference worker failed to start: ${reason}`));
      });
      const cleanup = () => {
        offMessage();
        offEnd();
      };
    });
    if (ready.rejected.length > 0)
      options.log?.warn(
        { executionProvider: ready.executionProvider, rejected: ready.rejected },
        'execution provider fallback',
      );
    if (!ready.inputNames.includes(input.name)) {
      await link.terminate();
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
        thread: link.where === 'host' ? 'pipeline worker' : 'own worker',
      },
      'model loaded in an inference worker',
    );
    return new WorkerModel(
      entry,
      variant,
      input,
      labels,
      link,
      ready.executionProvider,
      ready.createMs,
      options.log,
    );
  }

  /** Where the session is served: a worker of its own, or the pipeline worker hosting it. */
  get sessionThread(): 'own worker' | 'pipeline worker' {
    return this.link.where === 'host' ? 'pipeline worker' : 'own worker';
  }

  /** Whether the session's thread confirmed `session.release()` (after `dispose`). */
  get sessionReleased(): boolean {
    return this.releasedNow;
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
    this.link.postMessage({ type: 'port', port: port1 }, [port1]);
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

  /**
   * Releases the session; its own worker then ends, a host closes its port (either is cut off if
   * it does not finish in 5 s).
   */
  async dispose(): Promise<void> {
    if (this.stopped) return;
    this.stopped = 'model disposed';
    await this.link.release(5000);
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

type WorkerReply =
  | ReadyReply
  | { type: 'failed'; message: string }
  | { type: 'released'; error?: string }
  | RunReply;
