import { Agent, RESTART_EXIT_CODE } from '../agent.js';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../log.js';
import { collectionFields, heapKeeperOptions, startHeapKeeper } from '../service/heap-keeper.js';
import { isLean, topTier } from '../service/memory-env.js';
import { ServiceNotifier, servingState } from '../service/systemd.js';
import { type Command, parseCommandArgs } from './command.js';

export const runCommand: Command = {
  name: 'run',
  summary: 'Run the agent daemon (what `npm start` runs)',
  usage: 'edge-agent run [--config FILE]',
  async run(ctx) {
    const { values } = parseCommandArgs(this, ctx.argv, { config: { type: 'string', short: 'c' } });
    const loaded = loadConfig({ file: values.config, env: ctx.env, cwd: ctx.cwd });
    const log = createLogger({ level: loaded.config.log.level, fd: 1 });
    // `lean`: V8 without its optimising compilers (EDGE_AGENT_LEAN=1 or --lite-mode); `tier`: where V8
    // compiles hot JavaScript to (maglev: `--no-turbofan`, the JIT's default on Node ≥ 24; docs/memory.md).
    log.info(
      { config: loaded.file ?? 'defaults', node: process.version, lean: isLean(), tier: topTier() },
      'configuration loaded',
    );

    // A bad EDGE_AGENT_HEAP_HEADROOM_MB is refused here, before anything starts.
    const heapKeeper = heapKeeperOptions(ctx.env);
    const controller = new AbortController();
    const onSignal = (sig: NodeJS.Signals) => {
      log.info({ signal: sig }, 'stopping');
      controller.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    // Both threads' V8 heaps kept near what they hold (src/service/heap-keeper.ts; docs/memory.md).
    const keeper =
      heapKeeper &&
      startHeapKeeper(heapKeeper, {
        onCollect: (c) =>
          log.debug({ component: 'heap', thread: 'main', ...collectionFields(c) }, 'heap collected'),
      });
    const agent = new Agent({
      config: loaded.config,
      log,
      configFile: loaded.file,
      env: ctx.env,
      heapKeeper,
    });
    // Type=notify: READY after the first inference (or camera offline but serving), watchdog pings.
    const service = new ServiceNotifier({
      env: ctx.env,
      pid: process.pid,
      log,
      state: () => servingState(agent.pipeline?.stats()),
    });
    service.start(controller.signal);
    try {
      await agent.start(controller.signal);
      await agent.finished();
    } finally {
      await service.stop();
      await agent.stop();
      keeper?.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // Every stop step is bounded; should a handle still linger (a socket to a hung broker), it
      // must not hold the process: exit anyway shortly after. Unref'd: a clean exit never waits.
      setTimeout(() => {
        log.warn('handles still open after stop; exiting anyway');
        process.exit(process.exitCode ?? 0);
      }, 500).unref();
    }
    // A `restart` command: a distinct code so the service manager (systemd Restart=always) restarts us.
    return agent.restartRequested === undefined ? 0 : RESTART_EXIT_CODE;
  },
};
