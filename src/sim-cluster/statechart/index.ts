export {
  compileMachine,
  StatechartError,
  type CompiledMachine,
  type Implementation,
  type ImplementationArgs,
  type NamedRef,
  type NodeInfo,
  type StateInfo,
  type TimerInfo,
  type TransitionInfo,
} from './compile.ts';
export { Statechart, type StatechartHost, type StatechartObserver, type StatechartOptions, type TransitionHook } from './runtime.ts';
export { CoverageRecorder, type MachineCoverage, type RunCoverage } from './coverage.ts';
export { machineConfigJson, toMermaid, transitionLabel } from './diagram.ts';
