/**
 * The onnxruntime execution providers edge-agent knows: what the config accepts
 * (`inference.executionProviders`), what sessions are opened with, and what the hardware profile
 * reports on (even when the installed onnxruntime-node lacks one). The one list; add a provider here.
 */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'webgpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];
