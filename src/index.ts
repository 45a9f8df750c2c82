/**
 * The `hasim` package: the kernel, the System contract, the generic faults, the harness (run a
 * case, a seed's case, fuzz a seed range, shrink, trace files, replay) and the bundled systems.
 * See docs/library.md; `hasim/vitest` has helpers for vitest suites.
 */
import type { AnySystem } from './contract/system.ts';
import { replayTrace, type ReplayResult } from './harness/replay.ts';
import { readTraceFile, systemOf, type TraceFile } from './harness/trace-file.ts';

// fast-check itself, so that a system's own fault kinds build arbitraries with the same copy.
export { default as fc } from 'fast-check';

// The kernel: virtual time, event queue, seeded randomness, network, processes, nodes, trace.
export * from './sim-cluster/index.ts';

// The System contract and what systems are made of.
export { ConfigError, type AnySystem, type Deployment, type Deployments, type Fix, type Instance, type Profile, type RecoveryProbe, type Resolved, type System, type View } from './contract/system.ts';
export { claimApplies, claimHolds, type Claim, type MetricDefinition, type MetricUnit, type Observation, type Observer, type ScenarioPlan, type ScenarioReport, type ScenarioRun, type ScenarioSpec, type ScriptedAction } from './contract/scenario.ts';
export { Variation } from './contract/variation.ts';
export {
  AT_PARAM, describeParams, faultProblem, faultSchema, MAX_FAULT_TIME_US, paramSchema, rolesOf, scheduleProblem, scheduleSchema,
  type AnyFaultKind, type ArbitraryContext, type FaultContext, type FaultKind, type FaultRecord, type ParamSchema, type Platform, type Target, type TargetRoles,
} from './faults/fault-kind.ts';
export {
  clockDrift, clockJump, crash, deletion, GENERIC_FAULT_KINDS, isolate, linkBurst, nodeFailure, partition, pause, podIsolate, podPartition, targetArbitrary,
  type ClockDrift, type ClockJump, type Crash, type Delete, type GenericFault, type Isolate, type LinkBurst, type NodeFailure, type Partition, type Pause,
  type PodIsolate, type PodPartition,
} from './faults/generic.ts';
export { seedArbitrary, scheduleArbitrary, swarmScheduleArbitrary, type ScheduleOptions } from './faults/arbitraries.ts';
export { applySchedule, faultEnd, healTime, type FaultRegistry } from './faults/apply.ts';
export { boundTotal, formatBound, type BoundTerm, type Monitor, type RunWindow, type Violation } from './invariants/monitor.ts';

// The harness: one pipeline from a case to a verdict, shrinking, trace files and replay.
export { caseOf, execute, invariantIds, registryOf, runCase, type Case, type Execution, type Outcome, type RunOptions, type Verdict } from './harness/run-case.ts';
export {
  caseForSeed, DEPLOYMENT_SWARM, deploymentForSeed, resolveSeed, resolveSpace, scheduleArbitraryFor, shrinkSeed,
  type CaseSpace, type SeedConfiguration, type SeedDeployment, type ShrinkOptions, type Shrunk,
} from './harness/seeded-case.ts';
export { fuzz, rerunCommand, type FuzzOptions, type FuzzResult, type SeedFailure } from './harness/fuzz.ts';
export { minimize, type MinimizeResult } from './harness/minimize.ts';
export {
  attribute, bugId, candidateFixes, explainingFixes, formatRemovers, inlineTriageRunner, kindsOf, MODEL_FAILURE, removes, runProbe, signatureKey, triage, triageShrink, triageSpace,
  type Attribution, type Bug, type FixProbe, type ProbeRequest, type ProbeResult, type ShrinkRequest, type Signature, type TriageOptions, type TriageResult, type TriageRunner, type TriageSeed,
} from './harness/triage.ts';
export { formatValue, runScenario, type ScenarioOptions } from './harness/scenario.ts';
export { formatFailure, formatSchedule } from './harness/report.ts';
export {
  formatTraceFile, hashSchemeOf, readTraceFile, systemOf, TRACE_FORMAT, TRACE_VERSION, TraceFileError, traceFileSchema, validateSchedule, validateTraceFile,
  type Expectation, type TraceFile,
} from './harness/trace-file.ts';
export { caseOfExpectation, profileDrift, replayTrace, updateTrace, type ExpectationUpdate, type ReplayResult } from './harness/replay.ts';

// Building blocks of the bundled systems that another system reuses: the Redis keyspace (TTLs on
// the Redis node's clock, LRU eviction), request/response over simulated connections, a
// Kubernetes Service's endpoints and the kubelet's probes. They live with StreamSpace, which
// defined them; a system under src/systems/ reaches them only through this entry.
export { Keyspace, RedisError, type EvictionPolicy, type KeyEvent, type KeyspaceOptions, type SetOptions } from './systems/streamspace/redis/keyspace.ts';
export { ok, RpcClient, serveRpc, serverError, type RpcClientOptions, type RpcErrorKind, type RpcHandler, type RpcResult } from './systems/streamspace/net/rpc.ts';
export { ApiServiceEndpoints as ServiceEndpoints } from './systems/streamspace/cluster/api-service.ts';
export { KubeletProbes, type KubeletHost } from './systems/streamspace/kube/kubelet-probes.ts';
export type { ContainerProbes, ProbeSpec } from './systems/streamspace/config.ts';

// The bundled systems. Kept last: a bundled system imports this entry, so every module above must
// be evaluated before the registry (and through it the systems) is.
export { hakgal, streamspace, SYSTEMS } from './systems/index.ts';
import { SYSTEMS } from './systems/index.ts';
export type { StreamSpaceConfig, ConfigOverrides as StreamSpaceOverrides } from './systems/streamspace/config.ts';
export type { StreamSpaceCluster } from './systems/streamspace/cluster/cluster.ts';
export type { ClusterView as StreamSpaceView, CommandLife, Execution as CommandExecution } from './systems/streamspace/invariants/cluster-view.ts';
export type { StreamSpaceFault } from './systems/streamspace/faults.ts';

/** Reads a trace file and replays it under each expectation (`systems`: where its system is looked up; default the bundled ones). */
export function replayFile(path: string, systems: readonly AnySystem[] = SYSTEMS): { trace: TraceFile; results: ReplayResult[] } {
  const trace = readTraceFile(path, systems);
  return { trace, results: replayTrace(systemOf(trace, systems), trace) };
}
