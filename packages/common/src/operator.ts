import { userInfo } from 'node:os';

/**
 * Who gave a command, as audited: the user name and uid of the process, and
 * the user sudo says ran it (SUDO_USER, which sudo sets) when it came through
 * sudo. Only a few users can act at all (the master's key store and control
 * socket are its user's and its sock_group's, the minion's control socket is
 * root's), so behind a shared root or service account `sudo_user` is what tells
 * operators apart.
 */
export interface Operator {
  user: string;
  uid: number;
  sudo_user?: string;
}

export function currentOperator(): Operator {
  const uid = process.getuid?.() ?? -1;
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // A uid without a passwd entry (containers): the uid alone still identifies it.
    user = `uid ${uid}`;
  }
  const sudo = process.env['SUDO_USER'];
  return { user, uid, ...(sudo && { sudo_user: sudo }) };
}

const MAX_NAME = 256;

/** Why a value received from a control client is not an Operator, or undefined when it is one. */
export function operatorProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return "'operator' must be {user, uid}";
  const o = value as Record<string, unknown>;
  const name = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME;
  if (!name(o['user'])) return "'operator.user' must be a user name";
  if (!Number.isInteger(o['uid'])) return "'operator.uid' must be an integer";
  if (o['sudo_user'] !== undefined && !name(o['sudo_user'])) return "'operator.sudo_user' must be a user name";
  const extra = Object.keys(o).filter((k) => !['user', 'uid', 'sudo_user'].includes(k));
  if (extra.length > 0) return `'operator' has unknown fields: ${extra.join(', ')}`;
  return undefined;
}
