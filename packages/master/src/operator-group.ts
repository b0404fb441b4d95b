import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, statSync } from 'node:fs';
import { BrineError } from '@brine/common';

/** The group whose members may control the master (its socket) and manage keys (`sock_group`). */
export interface OperatorGroup {
  name: string;
  gid: number;
}

export class OperatorGroupError extends BrineError {}

/**
 * The gid of `name` in one group(5) line (`name:x:gid:members`), or undefined
 * when the line is about another group or malformed.
 */
export function gidFromGroupLine(line: string, name: string): number | undefined {
  const fields = line.split(':');
  if (fields.length < 3 || fields[0] !== name || !/^\d+$/.test(fields[2]!)) return undefined;
  return Number(fields[2]);
}

/**
 * Looks a group up by name. Node has no getgrnam, so this asks `getent group`,
 * which goes through NSS as chgrp would (a group from LDAP or sssd works);
 * /etc/group is read only where getent is missing.
 */
export function lookupGroup(name: string): number | undefined {
  let text: string;
  try {
    text = execFileSync('getent', ['group', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    // getent exits 2 for an unknown group; only a missing getent falls back to the file.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
    text = readFileSync('/etc/group', 'utf8');
  }
  for (const line of text.split('\n')) {
    const gid = gidFromGroupLine(line, name);
    if (gid !== undefined) return gid;
  }
  return undefined;
}

/** `sock_group` resolved at start: undefined when disabled (''), an error naming the fix when the group does not exist. */
export function resolveOperatorGroup(name: string, configFile: string): OperatorGroup | undefined {
  if (name === '') return undefined;
  const gid = lookupGroup(name);
  if (gid === undefined) {
    throw new OperatorGroupError(
      'sock_group_missing',
      `sock_group '${name}' (${configFile}): no such group; create it (groupadd --system ${name}) and add the operators to it, or set sock_group: '' to keep the control socket and keys to the master's user`,
    );
  }
  return { name, gid };
}

/**
 * Gives `path` (the master's own) to the group with `mode`, changing only what
 * differs. A chown the master may not make (it is not in the group, or its unit
 * forbids chown) fails with the fix: under the unit, sock_group must be its Group=.
 */
export function shareWithGroup(path: string, mode: number, group: OperatorGroup, option = 'sock_group'): void {
  const st = statSync(path);
  try {
    if (st.gid !== group.gid) chownSync(path, -1, group.gid);
    if ((st.mode & 0o7777) !== mode) chmodSync(path, mode);
  } catch (err) {
    throw new OperatorGroupError(
      'sock_group_denied',
      `cannot give ${path} to group '${group.name}' (${option}) with mode ${mode.toString(8)}: ${(err as Error).message}; the master's user must own it and be in that group (in brine-master.service, set Group=${group.name}), or set ${option}: ''`,
    );
  }
}
