export * from './time.ts';
export { EventQueue, type QueueEntry } from './event-queue.ts';
export { portableExp, RandomStream, RandomStreams } from './random.ts';
export { NodeClock, type NodeClockOptions, type Ppm } from './node-clock.ts';
export { TraceRecorder, vocabulary, type EventMap, type TraceEvent, type TraceListener, type TraceOptions, type Vocabulary } from './trace.ts';
export type { TraceHashScheme } from './trace-encoding.ts';
export { DeterminismLeakError, withDeterminismGuard, isGuardActive } from './determinism-guard.ts';
export {
  ConnectionEnd,
  DEFAULT_NETWORK_OPTIONS,
  Network,
  type CloseReason,
  type ConnectionHandlers,
  type ConnectOptions,
  type KeepAliveOptions,
  type LatencyModel,
  type LinkOptions,
  type NetworkOptions,
} from './network.ts';
export {
  SimNode,
  SimProcess,
  type BootFn,
  type ProcessBehaviour,
  type ProcessContext,
  type ProcessSpec,
  type ProcessStatus,
  type TimerHandle,
} from './process.ts';
export { Simulation, type ModelFailure, type RunLimits, type RunResult, type RunStatus, type SimulationOptions } from './simulation.ts';
export { processClock, startActor, type SimActorOptions } from './xstate-adapter.ts';
export { compileMachine, Statechart, StatechartError, CoverageRecorder, machineConfigJson, toMermaid, transitionLabel, type CompiledMachine, type StatechartHost, type StatechartObserver, type StatechartOptions, type TransitionHook, type MachineCoverage, type RunCoverage } from './statechart/index.ts';
