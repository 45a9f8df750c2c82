import type { AnySystem } from '../contract/system.ts';
import { streamspace } from './streamspace/system.ts';
import { hakgal } from './hakgal/system.ts';

/** Every bundled system; the first is the default of `--system` and the system of trace files before version 3. */
export const SYSTEMS: readonly AnySystem[] = [streamspace, hakgal];

export { hakgal, streamspace };
