import { InputError, type SourcePos } from '@brine/common';
import type { Args } from '../modules/types.js';
import type { RenderedSls } from '../render/index.js';

/** Requisites that order states and gate them (listen is kept apart: it does neither). */
export const REQUISITE_KINDS = [
  'require',
  'require_any',
  'watch',
  'watch_any',
  'onchanges',
  'onchanges_any',
  'onfail',
  'onfail_any',
  'onfail_all',
  'prereq',
] as const;
export type RequisiteKind = (typeof REQUISITE_KINDS)[number];

/** `_in` forms exist for the base kinds only, as in Salt (no require_any_in). */
export const IN_KINDS = ['require_in', 'watch_in', 'onchanges_in', 'onfail_in', 'prereq_in', 'listen_in'] as const;
export type InKind = (typeof IN_KINDS)[number];

export type RequisiteKey = RequisiteKind | InKind | 'listen';

/**
 * Where a value sits in a rendered file, as a chain of keys up to the document;
 * turned into file:line only when an error needs it (a compile of 10,000 states
 * makes many of these, so each is one small object).
 */
export interface Locus {
  source: RenderedSls;
  parent?: Locus;
  key?: string | number;
}

export const childLocus = (parent: Locus, key: string | number): Locus => ({ source: parent.source, parent, key });

export function pathOf(locus: Locus): (string | number)[] {
  const path: (string | number)[] = [];
  for (let at: Locus | undefined = locus; at && at.key !== undefined; at = at.parent) path.unshift(at.key);
  return path;
}

export const posOf = (locus: Locus): SourcePos => {
  const line = locus.source.lineOf(pathOf(locus));
  return line === undefined ? { file: locus.source.file } : { file: locus.source.file, line };
};

export const problemAt = (locus: Locus, detail: string, code = 'sls_invalid'): InputError => new InputError(code, posOf(locus), detail);

export interface RetrySpec {
  attempts: number;
  until: boolean;
  /** Seconds between attempts, plus up to `splay` seconds at random. */
  interval: number;
  splay: number;
}

/** One dependency of a state: it waits for `target` (a chunk index) and reacts to its result. */
export interface Requisite {
  kind: RequisiteKind;
  target: number;
  /** The require a prereq adds from the pre-required state back to the state that declared it. */
  implicit?: boolean;
}

/** One state call: an ID, a module function and one name, with everything resolved. */
export interface LowChunk {
  /** Position in declaration order; requisites refer to chunks by it. */
  index: number;
  /** Salt's `<module>_|-<id>_|-<name>_|-<function>`. */
  tag: string;
  id: string;
  name: string;
  module: string;
  fun: string;
  sls: string;
  /** SLS files that include this state's SLS directly (so `sls: includer` matches it too). */
  includedFrom: readonly string[];
  locus: Locus;
  args: Args;
  order: number | 'first' | 'last' | undefined;
  onlyif: string[];
  unless: string[];
  creates: string[];
  retry: RetrySpec | undefined;
  failhard: boolean | undefined;
  /** Salt's `parallel: True`: the run goes on while this state runs; states that depend on it wait for it. */
  parallel?: boolean;
  requisites: Requisite[];
  /** Chunks whose changes fire this state's watch action at the end of the run. */
  listen: number[];
  /**
   * Why this state fails without running, as Salt fails only the state that is wrong: at its
   * requisite check (a requisite names no state) or where it would be called (an unknown
   * function, arguments its function refuses). Its dependents fail through their requisites.
   */
  broken?: { stage: 'requisites' | 'call'; comment: string };
}

export const chunkLabel = (c: Pick<LowChunk, 'sls' | 'id'>): string => `${c.sls}.${c.id}`;
