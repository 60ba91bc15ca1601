import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeStartDataBytes } from '../../../src/service/node-reserve.js';
import { TSX_LOADER } from '../../helpers/cli.js';

const vmDataBytes = () =>
  Number(/VmData:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;

describe.runIf(process.platform === 'linux')(
  'nodeStartDataBytes (the reserve under a child data limit)',
  () => {
    it('measures a node started like the child: more with a loader and a .ts entry, cached per kind', () => {
      const plain = nodeStartDataBytes();
      expect(plain).toBeGreaterThan(16 * 1024 * 1024);
      // Below this test process's own (it has loaded vitest, tsx and the tests).
      expect(plain).toBeLessThan(vmDataBytes());
      // Under tsx with a TypeScript entry (how tests and a source checkout run children): on Node 24
      // one more isolate (~560 MB), which a plain probe missed and a validation child died of.
      const ts = nodeStartDataBytes(['--import', TSX_LOADER], '.ts');
      expect(ts).toBeGreaterThanOrEqual(plain);
      expect(nodeStartDataBytes(['--import', TSX_LOADER], '.ts')).toBe(ts);
    });
  },
);
