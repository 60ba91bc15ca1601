import { describe, expect, it } from 'vitest';
import { AgentProcess } from '../../helpers/agent-process.js';

// The heap keeper (src/service/heap-keeper.ts) in a real `edge-agent run`: both isolates — the main
// thread and the pipeline worker — collect when their heap grows past the headroom, and frames keep
// coming. A small headroom makes the start-up's growth enough to trigger it within seconds.
const start = (headroomMB: string) =>
  AgentProcess.start(
    {
      log: { level: 'debug' },
      mqtt: { url: 'mqtt://127.0.0.1:9' },
      camera: { source: 'synthetic', fps: 10 },
    },
    { EDGE_AGENT_HEAP_HEADROOM_MB: headroomMB },
  );

describe('the heap keeper in the agent', () => {
  it('collects in the main thread and in the pipeline worker; EDGE_AGENT_HEAP_HEADROOM_MB=0 turns it off', async () => {
    const on = start('0.1');
    try {
      const collected = (thread: string) => (l: Record<string, unknown>) =>
        l.msg === 'heap collected' && l.thread === thread;
      const worker = await on.waitFor(collected('pipeline worker'), 60_000);
      const main = await on.waitFor(collected('main'), 60_000);
      for (const line of [worker, main]) {
        expect(line.component).toBe('heap');
        expect(line.afterMB as number).toBeLessThan(line.beforeMB as number);
        expect(line.pauseMs as number).toBeGreaterThanOrEqual(0);
      }
      // Still serving after the collections.
      const before = (await on.firstResult()) as { seq?: number };
      await new Promise((r) => setTimeout(r, 2000));
      const after = (await on.firstResult()) as { seq?: number };
      expect(after.seq).not.toBe(before.seq);
    } finally {
      expect((await on.terminate()).code).toBe(0);
    }

    const off = start('0');
    try {
      await off.firstResult();
      await new Promise((r) => setTimeout(r, 8000));
      expect(off.lines.filter((l) => l.msg === 'heap collected')).toEqual([]);
    } finally {
      expect((await off.terminate()).code).toBe(0);
    }
  }, 180_000);

  it('refuses a bad EDGE_AGENT_HEAP_HEADROOM_MB at start, saying what it takes', async () => {
    const agent = AgentProcess.start({}, { EDGE_AGENT_HEAP_HEADROOM_MB: 'lots' });
    const { code } = await agent.exited;
    expect(code).not.toBe(0);
    expect(agent.stderr + agent.log()).toContain('EDGE_AGENT_HEAP_HEADROOM_MB: expected a number of MB ≥ 0');
  }, 60_000);
});
