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
export { Statechart, type StatechartHost, type StatechartOptions, type TransitionHook } from './runtime.ts';
export { machineConfigJson, toMermaid, transitionLabel } from './diagram.ts';
