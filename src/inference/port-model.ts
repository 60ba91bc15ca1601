import type { MessagePort } from 'node:worker_threads';
import { EdgeAgentError } from '../errors.js';
import type { DecoderSpec, InputSpec } from '../models/manifest.js';
import type { OutputTensor } from './postprocess.js';
import { type Recycle, TensorClient, type TensorData, type WorkerTimes } from './tensor-client.js';
import type { InferenceResult } from './types.js';

/** What a thread needs to know of a model to prepare, run and decode frames for it (cloneable). */
export interface ModelInfo {
  /** Tells the pipeline's models apart (a switch retires the previous one by it). */
  key: number;
  name: string;
  variant: { id: string };
  task: 'classification' | 'detection';
  input: InputSpec;
  decoder: DecoderSpec;
  labels: readonly string[];
  executionProvider: string | undefined;
}

/**
 * A model whose session is served by serve-session.mjs — in a worker of its own, or in this very
 * thread when the pipeline worker hosts it — reached through a port `WorkerModel.openPort()` opened:
 * the pipeline worker runs frames through it exactly as the main thread would through
 * `WorkerModel.run`. The session is not this object's:
 * `dispose` only closes the port (the main thread disposes the `WorkerModel`).
 */
export class PortModel {
  private readonly client: TensorClient;

  /** Without a port the model has no session (the agent's no-model stand-in): runs are refused. */
  constructor(
    readonly info: ModelInfo,
    private readonly port: MessagePort | undefined,
  ) {
    this.client = new TensorClient(port ?? { postMessage: () => undefined }, info.input.name);
    if (!port) this.client.fail(`no model is loaded (${info.name})`);
    port?.on('message', (msg: { type: string }) => this.client.onMessage(msg));
    port?.on('close', () => this.client.fail('inference worker closed the port'));
  }

  get name(): string {
    return this.info.name;
  }
  get variant(): { id: string } {
    return this.info.variant;
  }
  get task(): 'classification' | 'detection' {
    return this.info.task;
  }
  get input(): InputSpec {
    return this.info.input;
  }
  get decoder(): DecoderSpec {
    return this.info.decoder;
  }
  get labels(): readonly string[] {
    return this.info.labels;
  }
  get executionProvider(): string | undefined {
    return this.info.executionProvider;
  }

  run(
    input: { data: TensorData; dims: readonly number[] },
    recycle?: Recycle,
  ): Promise<Record<string, OutputTensor>> {
    return this.client.run(input, recycle);
  }

  times(): WorkerTimes {
    return this.client.times();
  }

  inferEncoded(): Promise<InferenceResult> {
    return Promise.reject(new EdgeAgentError('stills are inferred on the main thread (WorkerModel)'));
  }

  async dispose(): Promise<void> {
    this.client.fail('model retired');
    this.port?.close();
  }
}
