import type { ScenarioPlan } from '../../contract/scenario.ts';
import { formatTime } from '../../sim-cluster/index.ts';

/**
 * Which of a scenario's seeded parameters separate the runs where a claim held (or an invariant
 * did) from those where it did not. A scenario's seeds vary its plan: the faults' targets, instants
 * and windows, the deployment's settings, the network. When a claim holds in some runs and not in
 * others, the question a reader asks first is what the failing runs have in common; a small
 * decision tree over the plans answers it, from the plans alone, without running anything.
 *
 * A test splits a node only when it is significant: Fisher's exact test on its 2×2 table, with a
 * Bonferroni correction for every value and threshold the node tried, at 1%. So a few hundred runs
 * whose outcome the seed's own timing decides give no tree, where a search for the best split
 * would always find one by chance.
 *
 * The measure is how much of the guessing error the tree removes. Guess the majority outcome for
 * every run and you are wrong in min(held, failed) runs; guess the majority outcome of each of the
 * tree's leaves and you are wrong in the sum of their minorities. A tree that removes less than half
 * of those errors is not shown: the outcome is then the seed's own timing more than its plan.
 */

/** A parameter's value in one seed's plan. */
export type Leaf = string | number | boolean | null;

/**
 * A seed's plan as parameters by path: `faults.length`, every field of every fault
 * (`faults[0].target.index`: the schedule's faults, then the scripted actions' fault records),
 * and every value of the deployment's overrides (`config.…`) and network (`network.…`). The plan's
 * derived instants (heal, work until) are left out: they follow from these.
 */
export function planParameters(plan: ScenarioPlan<unknown, unknown>): Map<string, Leaf> {
  const out = new Map<string, Leaf>();
  const faults = [...plan.schedule, ...(plan.actions ?? []).flatMap((a) => (a.asFault === undefined ? [] : [a.asFault]))];
  out.set('faults.length', faults.length);
  faults.forEach((f, i) => flatten(f, `faults[${i}]`, out));
  if (plan.config !== undefined) flatten(plan.config, 'config', out);
  if (plan.network !== undefined) flatten(plan.network, 'network', out);
  return out;
}

function flatten(value: unknown, path: string, out: Map<string, Leaf>): void {
  if (value === undefined || typeof value === 'function') return;
  if (value === null || typeof value !== 'object') {
    out.set(path, value as Leaf);
    return;
  }
  if (Array.isArray(value)) value.forEach((v, i) => flatten(v, `${path}[${i}]`, out));
  else for (const [k, v] of Object.entries(value)) flatten(v, `${path}.${k}`, out);
}

/** One run: whether the claim held (or the invariant did) and its plan's parameters. */
export interface JudgedRun {
  ok: boolean;
  parameters: ReadonlyMap<string, Leaf>;
}

/** One test on a parameter: a value or not (`=`, `≠`), or a side of a threshold (`≤`, `>`). */
export interface Condition {
  parameter: string;
  op: '=' | '≠' | '≤' | '>';
  /** The value as the report writes it (times in seconds, a missing parameter as `(none)`). */
  value: string;
}

/** A leaf of the tree: the runs that meet every condition on its path, and how many of them held. */
export interface Rule {
  conditions: Condition[];
  held: number;
  runs: number;
}

/** The rules that separate held from failed runs, and the share of the guessing error they remove. */
export interface Separation {
  /** The leaves, in the tree's order (the `=`/`≤` side of each test before the other). */
  rules: Rule[];
  /** The share (0-1] of the majority guess's errors that guessing the majority of each rule removes. */
  explained: number;
}

export interface SeparationOptions {
  /** Most tests on one path. Default 3: a claim that fails where three parameters meet. */
  depth?: number;
  /** Least share of its runs each side of a test keeps. Default 0.02 (and at least 3 runs). */
  minShare?: number;
  /** Least share of the errors the tree must remove to be returned. Default 0.5. */
  minExplained?: number;
  /** A numeric parameter is tested at a threshold, and by value too when it has at most this many distinct values. Default 6. */
  maxCategories?: number;
  /** A test is made only if Fisher's exact test gives it p ≤ alpha / (the tests the node tried). Default 0.01. */
  alpha?: number;
}

/**
 * A small decision tree over the plans' parameters that separates the runs where the outcome was
 * ok from the others: at each node the one test (a parameter's value, or a threshold of a numeric
 * one) that leaves the fewest errors, as long as it removes some, is significant, each side keeps
 * enough runs and the path is short. A claim that fails only where two or three parameters meet shows as one rule.
 * Null when every run has the same outcome, or when the tree removes less than `minExplained` of
 * the errors (the outcome is not a matter of the plan's parameters: the seed's own timing decides).
 */
export function separate(runs: readonly JudgedRun[], options: SeparationOptions = {}): Separation | null {
  const o = { depth: 3, minShare: 0.02, minExplained: 0.5, maxCategories: 6, alpha: 0.01, ...options };
  const baseline = minority(runs);
  if (baseline === 0) return null;
  const minRuns = Math.max(3, Math.ceil(o.minShare * runs.length));
  const parameters = [...new Set(runs.flatMap((r) => [...r.parameters.keys()]))].sort();
  const rules: Rule[] = [];
  const grow = (node: readonly JudgedRun[], path: Condition[]): void => {
    const split = path.length < o.depth ? bestSplit(node, parameters, { ...o, minRuns }) : null;
    if (split === null) {
      rules.push({ conditions: path, held: node.filter((r) => r.ok).length, runs: node.length });
      return;
    }
    grow(split.yes, [...path, split.test]);
    grow(split.no, [...path, split.negated]);
  };
  grow(runs, []);
  const errors = rules.reduce((sum, r) => sum + Math.min(r.held, r.runs - r.held), 0);
  const explained = (baseline - errors) / baseline;
  return explained >= o.minExplained ? { rules, explained } : null;
}

/** Runs whose outcome is not the majority's. */
function minority(runs: readonly JudgedRun[]): number {
  const held = runs.filter((r) => r.ok).length;
  return Math.min(held, runs.length - held);
}

interface Split {
  test: Condition;
  negated: Condition;
  yes: JudgedRun[];
  no: JudgedRun[];
}

/** A test considered at a node: which runs it sends to its `yes` side, how many held there, and the errors it leaves. */
interface Candidate {
  test: Condition;
  negated: Condition;
  inYes: (i: number) => boolean;
  /** Runs on the `yes` side, and how many of them held. */
  size: number;
  held: number;
  errors: number;
}

/** The errors a test leaves: the minority on each of its sides, `held` of `size` runs on one, the rest of the node on the other. */
function splitErrors(held: number, size: number, totalHeld: number, total: number): number {
  return Math.min(held, size - held) + Math.min(totalHeld - held, total - size - (totalHeld - held));
}

/**
 * The test that leaves the fewest errors in a node (the first such, by parameter name and value),
 * or null unless it removes some and is significant: its 2×2 table (held or not, on either side)
 * passes Fisher's exact test at `alpha` after a Bonferroni correction for every test the node tried.
 * Without the correction, a parameter with hundreds of values (an instant drawn to the µs) would
 * always find a threshold that splits a few runs off by chance.
 */
function bestSplit(node: readonly JudgedRun[], parameters: readonly string[], o: Required<SeparationOptions> & { minRuns: number }): Split | null {
  const totalHeld = node.filter((r) => r.ok).length;
  let best: Candidate | null = null;
  let tests = 0;
  const consider = (c: Candidate): void => {
    if (best === null || c.errors < best.errors) best = c;
  };
  for (const parameter of parameters) {
    const values = node.map((r) => r.parameters.get(parameter));
    if (values.every((v) => v === values[0])) continue;
    // A numeric parameter present in every run is ordered: a threshold first (it wins a tie: "longer
    // than 30 s" reads better than "60 s or 90 s"), then its values when it has few.
    const numbers = values.every((v) => typeof v === 'number') ? (values as number[]) : null;
    if (numbers !== null) {
      const t = threshold(node, numbers, o.minRuns);
      tests += t.tests;
      if (t.best !== null) {
        const { at, errors, held, size, lowest } = t.best;
        const value = valueText(at, parameter);
        // At the lowest value, "≤" is "=": `= 0` reads better than `≤ 0`.
        const [op, neg]: [Condition['op'], Condition['op']] = lowest ? ['=', '≠'] : ['≤', '>'];
        consider({ test: { parameter, op, value }, negated: { parameter, op: neg, value }, inYes: (i) => numbers[i]! <= at, size, held, errors });
      }
      if (new Set(numbers).size > o.maxCategories) continue;
    }
    for (const v of orderedValues(values)) {
      let size = 0;
      let held = 0;
      values.forEach((x, i) => {
        if (x !== v) return;
        size++;
        if (node[i]!.ok) held++;
      });
      if (size < o.minRuns || node.length - size < o.minRuns) continue;
      tests++;
      const value = v === undefined ? ABSENT : valueText(v, parameter);
      consider({ test: { parameter, op: '=', value }, negated: { parameter, op: '≠', value }, inYes: (i) => values[i] === v, size, held, errors: splitErrors(held, size, totalHeld, node.length) });
    }
  }
  const found = best as Candidate | null;
  if (found === null || found.errors >= minority(node)) return null;
  const p = fisherExact(found.held, found.size - found.held, totalHeld - found.held, node.length - found.size - (totalHeld - found.held));
  if (p * tests > o.alpha) return null;
  const yes: JudgedRun[] = [];
  const no: JudgedRun[] = [];
  node.forEach((r, i) => (found.inYes(i) ? yes : no).push(r));
  return { test: found.test, negated: found.negated, yes, no };
}

/**
 * The threshold t of a numeric parameter for which `≤ t` against `> t` leaves the fewest errors
 * (the lowest such) with at least `minRuns` runs on either side, and how many thresholds qualified.
 */
function threshold(node: readonly JudgedRun[], values: readonly number[], minRuns: number): {
  tests: number;
  best: { at: number; errors: number; held: number; size: number; lowest: boolean } | null;
} {
  const order = values.map((v, i) => ({ v, ok: node[i]!.ok })).sort((a, b) => a.v - b.v);
  const total = order.length;
  const totalHeld = order.filter((x) => x.ok).length;
  let best: { at: number; errors: number; held: number; size: number; lowest: boolean } | null = null;
  let tests = 0;
  let below = 0;
  let belowHeld = 0;
  for (let i = 0; i < total - 1; i++) {
    below++;
    if (order[i]!.ok) belowHeld++;
    if (order[i]!.v === order[i + 1]!.v || below < minRuns || total - below < minRuns) continue;
    tests++;
    const errors = splitErrors(belowHeld, below, totalHeld, total);
    if (best === null || errors < best.errors) best = { at: order[i]!.v, errors, held: belowHeld, size: below, lowest: order[i]!.v === order[0]!.v };
  }
  return { tests, best };
}

/**
 * Fisher's exact test, two-sided, of the 2×2 table [[a, b], [c, d]]: the probability, with the
 * margins fixed, of a table at most as likely as this one (hypergeometric, from log-factorials).
 */
export function fisherExact(a: number, b: number, c: number, d: number): number {
  const n = a + b + c + d;
  const logFactorial = new Float64Array(n + 1);
  for (let k = 2; k <= n; k++) logFactorial[k] = logFactorial[k - 1]! + Math.log(k);
  const row = a + b;
  const col = a + c;
  const logP = (x: number): number => logFactorial[row]! + logFactorial[n - row]! + logFactorial[col]! + logFactorial[n - col]!
    - logFactorial[n]! - logFactorial[x]! - logFactorial[row - x]! - logFactorial[col - x]! - logFactorial[n - row - col + x]!;
  const observed = logP(a);
  let p = 0;
  for (let x = Math.max(0, row + col - n); x <= Math.min(row, col); x++) {
    const lp = logP(x);
    // A relative tolerance, so that tables as likely as the observed one count despite rounding.
    if (lp <= observed + 1e-7) p += Math.exp(lp);
  }
  return Math.min(1, p);
}

/** A parameter's distinct values: numbers ascending, then the others by their text, a missing parameter last. */
function orderedValues(values: ReadonlyArray<Leaf | undefined>): Array<Leaf | undefined> {
  const rank = (v: Leaf | undefined): [number, number | string] => (v === undefined ? [2, 0] : typeof v === 'number' ? [0, v] : [1, String(v)]);
  return [...new Set(values)].sort((a, b) => {
    const [ka, va] = rank(a);
    const [kb, vb] = rank(b);
    return ka !== kb ? ka - kb : va < vb ? -1 : va > vb ? 1 : 0;
  });
}

/** A value as the report writes it: times (fields named `at` or ending in `Us`) in seconds. */
function valueText(v: Leaf, parameter: string): string {
  if (typeof v === 'number' && /(^|\.)at$|Us$/.test(parameter)) return formatTime(v);
  return typeof v === 'string' ? v : String(v);
}

/** How the report writes a missing parameter (a fault the seed's plan does not have). */
const ABSENT = '(none)';
