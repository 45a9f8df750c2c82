/**
 * The package's root folder. This module sits two folders below it however the CLI runs: in the
 * sources (`src/cli/`), compiled per module (`dist/cli/`) or bundled (`dist/bin/`, where its code is
 * inlined into a chunk of the same depth).
 */
export function packageRoot(): URL {
  return new URL('../../', import.meta.url);
}
