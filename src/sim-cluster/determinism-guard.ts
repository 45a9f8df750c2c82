/**
 * While a simulation runs, the sources of real time and real randomness are swapped for versions
 * that throw a `DeterminismLeakError`, so simulation code that reaches one fails loudly with the
 * seed instead of silently producing runs that cannot be replayed (DESIGN decision 1).
 *
 * Guarded: Math.random, Date.now, `new Date()` without arguments, performance.now, setTimeout,
 * setInterval, setImmediate, queueMicrotask, crypto.randomUUID and crypto.getRandomValues.
 *
 * One call site is tolerated: xstate's scheduler stamps each delayed event with
 * `startedAt: Date.now()`, a value it never reads to decide when the event fires (timers come from
 * the kernel's Clock adapter). Date.now called from inside xstate's dist files returns 0.
 * process.nextTick is left alone: Node's own stream code uses it for console output.
 */
export class DeterminismLeakError extends Error {
  constructor(what: string) {
    super(`determinism leak: ${what} was called from simulation code; use the simulation's clock, timers and random streams instead`);
    this.name = 'DeterminismLeakError';
  }
}

const XSTATE_FRAME = /[\\/]xstate[\\/]dist[\\/]/;

interface Saved {
  random: typeof Math.random;
  Date: DateConstructor;
  performanceNow: typeof performance.now;
  setTimeout: typeof globalThis.setTimeout;
  setInterval: typeof globalThis.setInterval;
  setImmediate: typeof globalThis.setImmediate;
  queueMicrotask: typeof globalThis.queueMicrotask;
  randomUUID: typeof crypto.randomUUID;
  getRandomValues: typeof crypto.getRandomValues;
}

let depth = 0;
let saved: Saved | undefined;

function thrower(what: string): (...args: never[]) => never {
  return () => {
    throw new DeterminismLeakError(what);
  };
}

/** Returns structured call sites instead of a formatted stack (no source-map formatting cost). */
function callSites(_error: Error, sites: NodeJS.CallSite[]): NodeJS.CallSite[] {
  return sites;
}

/**
 * How many calls into a recognised xstate scheduler are running (see `recogniseXstateScheduler`).
 * Inside one, Date.now can only be xstate's own `startedAt` stamp: the only other code the
 * scheduler runs is the kernel's Clock adapter.
 */
let xstateSchedulerDepth = 0;

/**
 * Wraps an xstate actor system's `scheduler.schedule` (the one xstate function that reads Date.now)
 * so that the guard recognises its call without capturing a stack: a stack capture for every
 * delayed event cost several percent of a fuzz run. Date.now reached any other way still takes the
 * stack check below, so the tolerated call sites are the same.
 */
export function recogniseXstateScheduler(scheduler: { schedule(...args: never[]): void }): void {
  const schedule = scheduler.schedule;
  scheduler.schedule = (...args) => {
    xstateSchedulerDepth++;
    try {
      schedule(...args);
    } finally {
      xstateSchedulerDepth--;
    }
  };
}

function guardedDateNow(): number {
  if (xstateSchedulerDepth > 0) return 0;
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  Error.stackTraceLimit = 1;
  Error.prepareStackTrace = callSites;
  const holder: { stack?: NodeJS.CallSite[] } = {};
  Error.captureStackTrace(holder, guardedDateNow);
  const caller = holder.stack?.[0]?.getFileName() ?? '';
  Error.stackTraceLimit = limit;
  Error.prepareStackTrace = prepare;
  if (XSTATE_FRAME.test(caller)) return 0;
  throw new DeterminismLeakError('Date.now');
}

function install(): void {
  const RealDate = Date;
  saved = {
    random: Math.random,
    Date: RealDate,
    performanceNow: performance.now,
    setTimeout: globalThis.setTimeout,
    setInterval: globalThis.setInterval,
    setImmediate: globalThis.setImmediate,
    queueMicrotask: globalThis.queueMicrotask,
    randomUUID: crypto.randomUUID,
    getRandomValues: crypto.getRandomValues,
  };
  // A Date that still parses and formats explicit instants but refuses to read the real clock.
  const GuardedDate = function (this: unknown, ...args: unknown[]) {
    if (args.length === 0) throw new DeterminismLeakError('new Date()');
    if (!new.target) throw new DeterminismLeakError('Date()');
    return Reflect.construct(RealDate, args, new.target) as Date;
  } as unknown as DateConstructor;
  Object.setPrototypeOf(GuardedDate, RealDate);
  (GuardedDate as { prototype: Date }).prototype = RealDate.prototype;
  (GuardedDate as { now: () => number }).now = guardedDateNow;

  Math.random = thrower('Math.random');
  globalThis.Date = GuardedDate;
  performance.now = thrower('performance.now');
  globalThis.setTimeout = thrower('setTimeout') as unknown as typeof setTimeout;
  globalThis.setInterval = thrower('setInterval') as unknown as typeof setInterval;
  globalThis.setImmediate = thrower('setImmediate') as unknown as typeof setImmediate;
  globalThis.queueMicrotask = thrower('queueMicrotask') as unknown as typeof queueMicrotask;
  crypto.randomUUID = thrower('crypto.randomUUID');
  crypto.getRandomValues = thrower('crypto.getRandomValues');
}

function uninstall(): void {
  const s = saved!;
  Math.random = s.random;
  globalThis.Date = s.Date;
  performance.now = s.performanceNow;
  globalThis.setTimeout = s.setTimeout;
  globalThis.setInterval = s.setInterval;
  globalThis.setImmediate = s.setImmediate;
  globalThis.queueMicrotask = s.queueMicrotask;
  crypto.randomUUID = s.randomUUID;
  crypto.getRandomValues = s.getRandomValues;
  saved = undefined;
}

/** Runs `fn` with the guard installed; nested calls share one installation. */
export function withDeterminismGuard<T>(fn: () => T): T {
  if (depth++ === 0) install();
  try {
    return fn();
  } finally {
    if (--depth === 0) uninstall();
  }
}

/** Whether the guard is installed right now (for tests). */
export function isGuardActive(): boolean {
  return depth > 0;
}
