// Run in a fresh worker through src/pipeline/remote/boot.mjs by test/unit/pipeline/marking-floor.test.ts:
// the old generation of a small isolate before and after holdMarkingFloor.
import { parentPort, workerData } from 'node:worker_threads';
import { holdMarkingFloor, oldGenerationBytes } from '../../src/pipeline/remote/marking-floor.js';

const before = oldGenerationBytes();
const held = holdMarkingFloor((workerData as { floorMB: number }).floorMB * 1024 * 1024);
parentPort?.postMessage({ before, after: oldGenerationBytes(), held: held.length });
