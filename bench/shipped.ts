/**
 * The model lines (`model.*`, `memory.streamspace-6h`) run the compiled library in dist/ (what
 * `import 'hasim'` loads; `npm run bench` builds it first), as the campaign lines run the shipped
 * worker bundle: the TypeScript sources through tsx would be measured with tsx's transform, which
 * wraps functions to keep their names. The sources give the type, so a drift is a type error.
 */
type ClusterModule = typeof import('../src/systems/streamspace/cluster/cluster.ts');

const compiled = new URL('../dist/systems/streamspace/cluster/cluster.js', import.meta.url).href;

export const { StreamSpaceCluster } = (await import(compiled)) as ClusterModule;
