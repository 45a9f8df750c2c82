import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { MACHINES_DOC, machinesDoc } from '../../scripts/generate-machines-doc.ts';
import { main } from './main.ts';

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

describe('hasim machines', () => {
  test('docs/machines.md is what the definitions generate (run `npm run machines` after changing one)', () => {
    expect(readFileSync(MACHINES_DOC, 'utf8')).toBe(machinesDoc());
  });

  test('prints each machine as a Mermaid stateDiagram-v2 by default', async () => {
    const r = await cli('machines');
    expect(r.code).toBe(0);
    // Several machines: each diagram follows a `%% <system>: <machine>` line.
    const elector = r.out[r.out.indexOf('%% streamspace: elector') + 1]!;
    expect(elector).toMatch(/^stateDiagram-v2\n/);
    expect(elector).toContain('acquiring_attempting --> leading : ATTEMPT_DONE [attemptSucceeded] / reportTransition');
    expect(r.out).toContain('%% streamspace: hub');
  });

  test('--format json prints the machine configs; with --machine, the config alone, as Stately imports it', async () => {
    const all = await cli('machines', '--format', 'json');
    expect(all.code).toBe(0);
    const parsed = JSON.parse(all.out[0]!) as { system: string; machines: Array<{ id: string }> };
    expect(parsed.system).toBe('streamspace');
    expect(parsed.machines.map((m) => m.id)).toEqual(['elector', 'container', 'pod-container', 'api', 'hub', 'dispatcher-worker', 'agent', 'writer', 'connection', 'pubsub', 'sentinel', 'patroni']);
    const one = await cli('machines', '--machine', 'elector', '--json');
    expect(JSON.parse(one.out[0]!)).toEqual(parsed.machines[0]);
    const config = JSON.parse(one.out[0]!) as Record<string, unknown>;
    expect(config).toMatchObject({ id: 'elector', initial: 'acquiring' });
    expect(Object.keys(config)).not.toContain('context'); // the context factory is code, not config
  });

  test.each([
    [['machines', '--format', 'svg'], "hasim: --format: expected mermaid or json, got 'svg'"],
    [['machines', '--machine', 'nope'], "hasim: --machine: unknown machine 'nope' of streamspace (known: elector, container, pod-container, api, hub, dispatcher-worker, agent, writer, connection, pubsub, sentinel, patroni)"],
    [['machines', '--json', '--format', 'mermaid'], 'hasim: --json: contradicts --format mermaid'],
    [['machines', '--system', 'nope'], "hasim: --system: unknown system 'nope' (known: streamspace, hakgal)"],
    [['machines', 'elector'], "hasim: machines: unexpected argument 'elector'"],
    [['machines', '--colour'], "hasim: Unknown option '--colour'"],
  ])('%j is bad usage: exit 2, one line', async (argv, line) => {
    expect(await cli(...argv)).toEqual({ code: 2, out: [], err: [line] });
  });
});
