import { MAX_ID_BYTES } from './constants.js';

/**
 * Minion ids become file names in the master's key directories and appear in
 * targets, so only a conservative alphabet is allowed: letters, digits and `.`,
 * `_`, `-`, `@`, `+`, starting with a letter or digit, no `..`. This rules out
 * path separators, traversal, control characters, glob and list metacharacters.
 */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]*$/;

/** Why `id` is not a valid minion id, or undefined if it is valid. */
export function minionIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'minion id is empty';
  if (Buffer.byteLength(id) > MAX_ID_BYTES) return `minion id is longer than ${MAX_ID_BYTES} bytes`;
  if (id.includes('..')) return "minion id contains '..'";
  if (!ID_PATTERN.test(id)) {
    return 'minion id may only contain letters, digits and . _ - @ + and must start with a letter or digit';
  }
  return undefined;
}

export function isValidMinionId(id: string): boolean {
  return minionIdProblem(id) === undefined;
}
