// Bundles the `hasim` command and its worker threads into dist/bin/ (run by `npm run build`, after
// tsc has compiled dist/ for the library). Why a bundle for the command: loading ~80 modules one by
// one is a fifth of a short run's CPU (`npm run bench`, cli.startup); one bundle with lazily loaded
// chunks per subcommand costs less. The library stays per-module, with its declarations.
import { build } from 'esbuild';

await build({
  entryPoints: {
    hasim: 'src/cli/main.ts',
    'campaign-worker': 'src/cli/campaign/worker.ts',
    'report-worker': 'src/cli/report/worker.ts',
  },
  outdir: 'dist/bin',
  bundle: true,
  // Subcommands stay separate chunks, imported when they run, as in the per-module build.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // tinypool starts its workers from a file of its own package: it must stay a real dependency.
  external: ['tinypool'],
  // Tells src/cli/worker-file.ts that the worker bundles sit beside the chunk it is in.
  define: { 'process.env.HASIM_BUNDLE': '"bin"' },
  // Bundled CommonJS dependencies (seedrandom) call require; an ES module has none of its own.
  banner: { js: "import { createRequire as __hasimRequire } from 'node:module';\nconst require = __hasimRequire(import.meta.url);" },
  logLevel: 'warning',
});
