import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BrineError } from '@brine/common';

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_@+=,-]*$/;

/** Thrown for an SLS name that could escape its root or is not a dotted name. */
export class SlsNameError extends BrineError {
  constructor(readonly sls: string) {
    super('sls_name_invalid', `invalid SLS name '${sls}': use dotted names of letters, digits, '_' and '-' (e.g. 'storage.luks')`);
  }
}

/** Checks that an SLS name maps inside a root: no separators, no `..`, no empty segments. */
export function assertSlsName(sls: string): void {
  if (sls.length === 0 || sls.length > 255 || !sls.split('.').every((part) => SEGMENT.test(part))) {
    throw new SlsNameError(sls);
  }
}

/**
 * Finds the file for SLS `a.b` as Salt does: `a/b.sls`, else `a/b/init.sls`,
 * trying each root in order. Undefined when no root has it.
 */
export function findSlsFile(roots: readonly string[], sls: string): string | undefined {
  assertSlsName(sls);
  const rel = sls.split('.');
  for (const root of roots) {
    const direct = `${join(root, ...rel)}.sls`;
    if (existsSync(direct)) return direct;
    const init = join(root, ...rel, 'init.sls');
    if (existsSync(init)) return init;
  }
  return undefined;
}

/**
 * Resolves Salt's relative include form against the including SLS: each leading dot
 * climbs one level from the including file, where `a/init.sls` counts as `a.init`.
 */
export function resolveRelativeSls(from: string, ref: string, fromIsInit: boolean): string {
  const m = /^(\.+)(.*)$/.exec(ref);
  if (!m) return ref;
  const parts = from.split('.');
  if (fromIsInit) parts.push('init');
  const levels = m[1]!.length;
  if (levels > parts.length) throw new SlsNameError(ref);
  return [...parts.slice(0, parts.length - levels), m[2]!].filter(Boolean).join('.');
}
