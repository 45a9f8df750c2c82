import type { ConfigOverrides } from './config.ts';

/**
 * A profile is the as-built model plus a set of named design fixes (DESIGN decision 8). Each fix is
 * a change a StreamSpace engineer could make in their code, switched on in the config's `fixes`
 * section; `hardened` turns every fix on.
 */
export interface Profile {
  name: string;
  description: string;
  config: ConfigOverrides;
}

export const PROFILES: Record<string, Profile> = {
  'streamspace-v2': {
    name: 'streamspace-v2',
    description: 'the as-built system at commit 15f3690, flaws included (the seed-000 deployment: 2 API pods with the Redis hub, 3 HA agents)',
    config: {},
  },
};

export function profile(name: string): Profile {
  const p = PROFILES[name];
  if (p === undefined) throw new Error(`unknown profile '${name}' (known: ${Object.keys(PROFILES).join(', ')})`);
  return p;
}
