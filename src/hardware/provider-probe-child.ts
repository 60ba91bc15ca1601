// The child process that tries the non-CPU execution providers for execution-providers.ts. Their
// native code (Dawn/Vulkan for WebGPU, the CUDA loader) writes warnings straight to file
// descriptors 1 and 2; here those are pipes the parent reads, not the agent's log or the CLI's
// JSON. A driver that crashes takes this process down, not the caller.
import { Worker } from 'node:worker_threads';
import { errorMessage } from '../errors.js';
import { probeModelBytes, tryProvider } from './execution-providers.js';

// A driver that hangs does so in this thread (WebGPU's adapter request blocks in a system call):
// no event of ours runs again, not even the IPC channel's `disconnect`. The caller kills such a
// child after its timeout; a caller that is gone first (crashed, killed outside a service manager)
// would leave it running for good. A thread of its own notices the re-parenting and ends the
// process. It needs no loader and holds nothing (a few MB for the probe's second or so).
const watch = new Worker(
  `const { workerData: w } = require('node:worker_threads');
  setInterval(() => { if (process.ppid !== w.parent) process.kill(process.pid, 'SIGKILL'); }, 500);`,
  { eval: true, workerData: { parent: process.ppid }, execArgv: [] },
);
watch.unref();

export interface ProbeRequest {
  providers: string[];
}

/** Per provider: undefined when it computed the probe model correctly, else why not. */
export type ProbeAnswer = Array<{ provider: string; error?: string }>;

process.once('message', (request: ProbeRequest) => {
  void (async () => {
    const model = probeModelBytes();
    const answer: ProbeAnswer = [];
    for (const provider of request.providers) {
      try {
        await tryProvider(model, provider);
        answer.push({ provider });
      } catch (err) {
        answer.push({ provider, error: errorMessage(err).split('\n')[0]!.slice(0, 300) });
      }
    }
    process.send?.(answer, undefined, undefined, () => process.disconnect());
  })();
});
