import type { RequisiteKind } from '../compile/types.js';

/** How a requisite target ended, as far as requisites care. */
export interface TargetState {
  /** null: test mode (or a prereq check) says it would change. */
  result: boolean | null;
  changed: boolean;
  /** False when the target itself was skipped (its requisites held it back, onchanges did not fire, ...). */
  ran: boolean;
}

/**
 * What a state's requisites say it should do:
 * - `met`: run normally; `change`: run, and a watched target changed (watch action may follow)
 * - `fail`: a requisite failed; `onfail`/`onchanges`: the trigger did not fire
 * - `pre`: no prereq target would change, so do not run.
 */
export type RequisiteStatus = 'met' | 'change' | 'fail' | 'onfail' | 'onchanges' | 'pre';

/**
 * Salt's requisite truth table (state.py _check_requisites), with two deliberate
 * differences: an onfail target that failed counts as failed even when it did
 * not run itself, and in test mode a target that would change does not fire
 * onfail (it has not failed).
 */
export function requisiteStatus(groups: Iterable<readonly [RequisiteKind, readonly TargetState[]]>): RequisiteStatus {
  const all = new Set<string>();
  for (const [kind, targets] of groups) {
    const base = kind.replace(/_(any|all)$/, '');
    const stats = new Set<string>();
    for (const t of targets) {
      if (base === 'onfail') {
        stats.add(t.result === false ? 'met' : 'onfail');
        continue;
      }
      if (t.result === false) stats.add('fail');
      else if (base === 'onchanges') stats.add(t.changed ? 'onchangesmet' : 'onchanges');
      else if (base === 'watch' && t.changed) stats.add('change');
      else if (base === 'prereq') stats.add(t.result === null ? 'premet' : 'pre');
      else if (t.ran) stats.add('met');
    }
    if (kind.endsWith('_any') || kind === 'onfail') {
      if (stats.has('met') || stats.has('change')) stats.delete('fail');
      if (stats.has('onchangesmet')) {
        stats.delete('onchanges');
        stats.delete('fail');
      }
      if (stats.has('onfail') && stats.has('met')) stats.delete('onfail');
    }
    // onfail_all: one target that did not fail is enough to hold the state back.
    if (kind === 'onfail_all' && stats.has('onfail')) stats.delete('met');
    for (const s of stats) all.add(s);
  }
  if (all.has('fail')) return 'fail';
  if (all.has('pre') && !all.has('premet')) return 'pre';
  if (all.has('onfail') && !all.has('onchangesmet')) return 'onfail';
  if (all.has('onchanges') && !all.has('onchangesmet')) return 'onchanges';
  if (all.has('change')) return 'change';
  return 'met';
}
