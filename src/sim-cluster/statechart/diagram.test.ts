import { describe, expect, test } from 'vitest';
import { setup } from 'xstate';
import { compileMachine } from './compile.ts';
import { machineConfigJson, toMermaid } from './diagram.ts';

const noop = (): void => undefined;

/** Shared keys, Mermaid keywords as keys, a transition of the machine itself, an internal transition, numeric and named delays. */
const demo = setup({ guards: { ok: () => true }, actions: { ping: noop, enter: noop, leave: noop }, delays: { soon: 5 } }).createMachine({
  id: 'demo',
  context: ({ input }: { input: unknown }) => input,
  initial: 'idle',
  on: { STOP: '.end' },
  states: {
    idle: { on: { GO: { guard: 'ok', target: 'busy' }, PING: { actions: 'ping' } } },
    busy: { entry: 'enter', exit: 'leave', initial: 'idle', states: { idle: { after: { soon: 'state' } }, state: { after: { 250: '#demo.idle' } } } },
    end: { type: 'final' },
  },
});

describe('diagrams', () => {
  test('Mermaid: unique ids titled with their keys, edges across composite states at the top level', () => {
    expect(toMermaid(compileMachine(demo)).split('\n')).toEqual([
      'stateDiagram-v2',
      '  idle : idle',
      '  idle : PING / ping',
      '  busy : busy (entry / enter, exit / leave)',
      '  state busy {',
      '    busy_idle : idle',
      '    busy_state : state',
      '    [*] --> busy_idle',
      '    busy_idle --> busy_state : after soon',
      '  }',
      '  s_end : end',
      '  [*] --> idle',
      '  idle --> busy : GO [ok]',
      '  s_end --> [*]',
      '  idle --> s_end : STOP',
      '  busy --> s_end : STOP',
      '  busy_state --> idle : after 250ms',
    ]);
  });

  test('JSON: the config createMachine was given, without its functions', () => {
    const json = machineConfigJson(demo);
    expect(json).not.toHaveProperty('context');
    expect(json).toMatchObject({ id: 'demo', initial: 'idle', on: { STOP: '.end' } });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});
