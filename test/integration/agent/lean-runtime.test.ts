import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AGENT_LEAN_NODE_ARGS,
  AGENT_MALLOC_ENV,
  AGENT_NODE_ARGS,
  AGENT_V8_FLAGS,
  jitNodeArgs,
} from '../../../src/service/memory-env.js';
import { AgentProcess } from '../../helpers/agent-process.js';
import { TSX_LOADER } from '../../helpers/cli.js';
import { REPO } from '../../helpers/paths.js';

// The lean runtime (docs/memory.md, "The lean runtime"): V8 without its optimising compilers. The
// real agent must serve under it — a normalising float model (its per-pixel loop then runs in the
// interpreter), results over HTTP, a clean stop — and EDGE_AGENT_LEAN=1 must get there by itself.
const DEPLOY_ENV = { ...AGENT_MALLOC_ENV, NODE_OPTIONS: AGENT_V8_FLAGS.join(' ') };
const FROM_SOURCES = path.join(REPO, 'src/cli.ts');
const CONFIG = {
  models: { dir: path.join(REPO, 'models'), default: 'ultraface', variant: 'slim-320' },
  camera: { source: `images:${path.join(REPO, 'samples')}`, fps: 5 },
  policy: { tuning: { background: false } },
};

let agent: AgentProcess | undefined;
afterEach(() => {
  agent?.kill();
  agent = undefined;
});

describe('the lean runtime', () => {
  it('serves a normalising model under --lite-mode and says so in its first log line', async () => {
    agent = AgentProcess.start(CONFIG, DEPLOY_ENV, {
      cli: FROM_SOURCES,
      nodeArgs: [...AGENT_NODE_ARGS, ...AGENT_LEAN_NODE_ARGS, '--import', TSX_LOADER],
    });
    const loaded = await agent.waitFor((l) => l.msg === 'configuration loaded', 60_000);
    const result = await agent.firstResult();
    expect(Array.isArray(result.detections)).toBe(true);
    const warning = agent.lines.find((l) => String(l.msg).includes('normalises its input in JavaScript'));
    expect(loaded).toMatchObject({ lean: true, tier: 'interpreter', node: process.version });
    // slim-320 normalises in JavaScript: the agent says what to serve instead.
    expect(warning).toMatchObject({
      level: 40,
      derive: 'edge-agent derive ultraface --variant slim-320 --method input-uint8',
    });
    const end = await agent.terminate();
    expect(end, agent.log()).toMatchObject({ code: 0 });
  }, 120_000);

  it('EDGE_AGENT_LEAN=1 restarts the agent lean in place where Node can (process.execve), else says how', async () => {
    agent = AgentProcess.start(
      CONFIG,
      { ...DEPLOY_ENV, EDGE_AGENT_LEAN: '1' },
      { cli: FROM_SOURCES, nodeArgs: [...AGENT_NODE_ARGS, '--import', TSX_LOADER] },
    );
    const loaded = await agent.waitFor((l) => l.msg === 'configuration loaded', 60_000);
    const canReexec = typeof (process as { execve?: unknown }).execve === 'function';
    const lean = canReexec;
    if (lean) {
      // Same process (systemd's main pid holds), now without the JIT.
      expect(loaded).toMatchObject({ lean: true, pid: agent.child.pid });
    } else {
      expect(loaded).toMatchObject({ lean: false });
      expect(agent.stderr).toContain('EDGE_AGENT_LEAN=1 needs Node.js 22.15 or newer');
      expect(agent.stderr).toContain(AGENT_LEAN_NODE_ARGS.join(' '));
    }
    expect(Array.isArray((await agent.firstResult()).detections)).toBe(true);
    // The cost warning comes with the lean runtime only.
    const warned = agent.lines.some((l) => String(l.msg).includes('normalises its input in JavaScript'));
    expect(warned).toBe(lean);
    const end = await agent.terminate();
    expect(end, agent.log()).toMatchObject({ code: 0 });
  }, 120_000);

  it('with the JIT on Node ≥ 24, Maglev is the top tier: the agent re-executes in place to add --no-turbofan', async () => {
    // The command line of a unit written before the flag, or of a start by hand.
    agent = AgentProcess.start(CONFIG, DEPLOY_ENV, {
      cli: FROM_SOURCES,
      nodeArgs: [...AGENT_NODE_ARGS, '--import', TSX_LOADER],
    });
    const loaded = await agent.waitFor((l) => l.msg === 'configuration loaded', 60_000);
    const maglev = jitNodeArgs().length > 0;
    expect(loaded).toMatchObject({ lean: false, tier: maglev ? 'maglev' : 'turbofan', pid: agent.child.pid });
    expect(Array.isArray((await agent.firstResult()).detections)).toBe(true);
    const end = await agent.terminate();
    expect(end, agent.log()).toMatchObject({ code: 0 });
  }, 120_000);
});
