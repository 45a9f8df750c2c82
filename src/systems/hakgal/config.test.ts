import { describe, expect, test } from 'vitest';
import { ConfigError } from '../../index.ts';
import { FIXES, PROFILES, reresolveHakgal, resolveHakgal } from './profiles.ts';

describe('configuration', () => {
  test('hardened is as-built with every fix', () => {
    expect(resolveHakgal('as-built').fixes).toEqual([]);
    expect(resolveHakgal('hardened').fixes).toEqual(FIXES.map((f) => f.name));
    expect(PROFILES.map((p) => p.name)).toEqual(['as-built', 'hardened']);
  });

  test('a fix switches on alone, and a recorded configuration resolves to the same', () => {
    const r = resolveHakgal('as-built', { topology: { pods: 3 } }, ['atomic-counter']);
    expect(r.fixes).toEqual(['atomic-counter']);
    expect(reresolveHakgal(r.config)).toEqual(r);
  });

  test.each([
    [{ topology: { pods: 0 } }, 'config.topology.pods: must be positive'],
    [{ topology: { pods: 9 } }, 'config.topology.pods: must be an integer in 0-8'],
    [{ pod: { writes: 'later' } }, 'config.pod.writes: must be one of create-task, await'],
    [{ nope: {} }, 'config.nope: unknown section'],
    [{ session: { ttl: 1 } }, 'config.session.ttl: unknown field'],
    [{ workload: { identities: [{ tenant: 'a', user: 'b', tabs: 9 }] } }, 'config.workload.identities: [0].tabs must be an integer in 1-4'],
    [{ workload: { microPercent: 80, transferPercent: 30 } }, 'config.workload.transferPercent: microPercent + transferPercent'],
    [JSON.parse('{"__proto__": {"pods": 1}}'), 'config.__proto__: unknown section'],
  ])('refuses %j', (overrides, message) => {
    expect(() => resolveHakgal('as-built', overrides)).toThrow(ConfigError);
    expect(() => resolveHakgal('as-built', overrides)).toThrow(message);
  });

  test('unknown profiles and fixes are bad input', () => {
    expect(() => resolveHakgal('nope')).toThrow("unknown profile 'nope'");
    expect(() => resolveHakgal('as-built', {}, ['nope'])).toThrow("unknown fix 'nope'");
  });
});
