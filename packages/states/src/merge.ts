/** A mapping as YAML or JSON makes one; class instances (a pillar secret, say) are values, not mappings. */
export const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * Salt's default ("smart"/recurse) merge: mappings merge key by key, anything else
 * in `over` replaces what `base` had, lists included. Neither input is modified.
 */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

/**
 * Salt's `pillar.get` path lookup: `a:b:c` walks nested mappings (and list
 * indexes). `path` is the path as found, with each list index in its plain form
 * (`keys:01` is `keys:1`), to compare with the secret paths splitSecrets lists.
 */
export function lookupPath(data: unknown, path: string, delimiter = ':'): { found: boolean; value: unknown; path?: string } {
  let node = data;
  const walked: string[] = [];
  for (const part of path.split(delimiter)) {
    if (Array.isArray(node) && /^\d+$/.test(part) && Number(part) < node.length) {
      node = node[Number(part)];
      walked.push(String(Number(part)));
    } else if (isPlainObject(node) && Object.hasOwn(node, part)) {
      node = node[part];
      walked.push(part);
    } else return { found: false, value: undefined };
  }
  return { found: true, value: node, path: walked.join(':') };
}
