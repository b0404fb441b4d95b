import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '@brine/common';
import type { RenderedSls } from './render/index.js';
import { matchTarget } from './target/match.js';
import { isMatchType, MATCH_TYPES, type MatchType, type MinionFacts } from './target/types.js';

/** One target block of a top file: which minions, and the SLS names they get. */
export interface TopEntry {
  target: string;
  match: MatchType;
  sls: string[];
  line: number | undefined;
}

/**
 * Reads a Salt top file: `base:` → target → list of SLS names, where the list may
 * carry `- match: <type>`. Only the base environment exists in Brine.
 */
export function parseTopFile(parsed: RenderedSls, file: string): TopEntry[] {
  const top = parsed.value;
  if (top === null) return [];
  const fail = (path: (string | number)[], detail: string): never => {
    throw new InputError('top_invalid', { file, line: parsed.lineOf(path) }, detail);
  };
  if (typeof top !== 'object' || Array.isArray(top)) return fail([], 'top file must map environments to targets (base: ...)');
  const envs = Object.keys(top);
  for (const env of envs) if (env !== 'base') fail([env], `environment '${env}' is not supported; put targets under 'base:'`);
  const targets = (top as Record<string, unknown>)['base'];
  if (targets === null || targets === undefined) return [];
  if (typeof targets !== 'object' || Array.isArray(targets)) return fail(['base'], "'base' must map targets to lists of SLS names");
  return Object.entries(targets as Record<string, unknown>).map(([target, list]) => {
    const path = ['base', target];
    if (!Array.isArray(list)) return fail(path, `target '${target}' must have a list of SLS names`);
    let match: MatchType = 'glob';
    const sls: string[] = [];
    list.forEach((item: unknown, i: number) => {
      if (typeof item === 'string') sls.push(item);
      else if (item && typeof item === 'object' && 'match' in item && Object.keys(item).length === 1) {
        const type = (item as { match: unknown }).match;
        if (!isMatchType(type)) fail([...path, i], `unknown match type '${String(type)}' (known: ${MATCH_TYPES.join(', ')})`);
        match = type as MatchType;
      } else fail([...path, i], `entries under '${target}' must be SLS names or '- match: <type>'`);
    });
    return { target, match, sls, line: parsed.lineOf(path) };
  });
}

/** The first root's `top.sls`, as Salt picks the top file of an environment. */
export function findTopFile(roots: readonly string[]): string | undefined {
  return roots.map((root) => join(root, 'top.sls')).find((f) => existsSync(f));
}

/**
 * The SLS names a top file gives this minion, in top-file order, each once.
 * `onMatched` is told after each entry is matched (a pillar compile checks there
 * whether the match read grains).
 */
export function slsForMinion(
  entries: readonly TopEntry[],
  minion: MinionFacts,
  file: string,
  onMatched?: (entry: TopEntry, matched: boolean) => void,
): string[] {
  const out = new Set<string>();
  for (const entry of entries) {
    const matched = matchTarget(entry.target, entry.match, minion, { file, line: entry.line });
    onMatched?.(entry, matched);
    if (matched) for (const sls of entry.sls) out.add(sls);
  }
  return [...out];
}
