import { createServer, type Server } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELP } from '../../../src/cli/help.js';
import { COMMANDS, main } from '../../../src/cli/main.js';

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const code = await main(argv, { env: {}, cwd: process.cwd(), stdout: out, stderr: err });
  return { code, stdout, stderr };
}

describe('edge-agent help', () => {
  it.each(COMMANDS.map((c) => c.name))(
    '%s: options with a sentence each, defaults and examples',
    async (name) => {
      const help = HELP[name];
      expect(help, `no long help for ${name} in src/cli/help.ts`).toBeDefined();
      expect(help!.examples.length).toBeGreaterThanOrEqual(2);
      for (const o of [...help!.options, ...(help!.arguments ?? [])]) {
        expect(o.text, `${name} ${o.flag}`).toMatch(/^[A-Za-z0-9`'"].*\.$/);
      }
      const viaHelp = await cli(['help', name]);
      const viaFlag = await cli([name, '--help']);
      expect(viaHelp.code).toBe(0);
      expect(viaFlag).toEqual(viaHelp);
      expect(viaHelp.stdout).toContain('examples:');
      expect(viaHelp.stdout).toContain(`usage: edge-agent ${name}`);
      for (const o of help!.options) expect(viaHelp.stdout).toContain(o.flag);
    },
  );

  it('documents every option a command parses (no flag without a line)', async () => {
    // A flag the parser knows is accepted; one that it does not know is a usage error (exit 2).
    const infer = await cli(['infer', 'x.jpg', '--no-such-flag']);
    expect(infer.code).toBe(2);
    expect(infer.stderr).toMatch(/Unknown option '--no-such-flag'/);
    const text = (await cli(['help', 'infer'])).stdout;
    for (const flag of ['--model', '--variant', '--threads', '--json', '--config'])
      expect(text).toContain(flag);
    expect(text).toMatch(/--model NAME\s+.*Default: models\.default/);
  });

  it('the overview lists the commands and points at `help COMMAND`; unknown commands exit 2', async () => {
    const overview = await cli(['help']);
    expect(overview.code).toBe(0);
    for (const c of COMMANDS) expect(overview.stdout).toContain(c.name);
    expect(overview.stdout).toContain('edge-agent help <command>');
    expect((await cli([])).code).toBe(2);
    expect((await cli(['help', 'nope'])).code).toBe(2);
    expect((await cli(['nope'])).code).toBe(2);
  });
});

describe('usage errors exit 2 before any network work', () => {
  let server: Server;
  let port = 0;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it.each([
    [[]],
    [['pi-1']],
    [['pi-1', 'Not A Command']],
    [['bad target!', 'ping']],
    [['pi-1', 'set-fps', '{not json']],
    [['pi-1', 'set-fps', '[1]']],
    [['pi-1', 'ping', '--timeout', 'soon']],
    [['pi-1', 'ping', '--expires', '-3']],
  ])('fleet send %j', async (args) => {
    const before = connections;
    const run = await cli(['fleet', 'send', ...args, '--url', `mqtt://127.0.0.1:${port}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^edge-agent fleet: /);
    expect(connections).toBe(before);
  });

  it('a valid send does connect (the listener above would see it)', async () => {
    const run = await cli([
      'fleet',
      'send',
      'pi-1',
      'ping',
      '--url',
      `mqtt://127.0.0.1:${port}`,
      '--timeout',
      '1',
    ]);
    expect(run.code).not.toBe(2);
    expect(connections).toBeGreaterThan(0);
  });
});
