import { createHash } from 'node:crypto';
import { commandFact, failure } from './fact.js';

export interface UserInfo {
  name: string;
  uid: number;
  gid: number;
  /** The first comma-separated field of GECOS, as Salt's `fullname`. */
  fullname: string;
  home: string;
  shell: string;
}

export interface GroupInfo {
  name: string;
  gid: number;
  members: string[];
}

/** The first line's `:`-separated fields when getent found the entry, else none. */
const entry = (out: { exitCode: number; stdout: string }): string[] => (out.exitCode === 0 ? out.stdout.split('\n')[0]!.split(':') : []);

/** The user in `getent passwd <name>`'s output, if it found one. */
export function passwdEntry(out: { exitCode: number; stdout: string }): UserInfo | undefined {
  const f = entry(out);
  return f.length < 7
    ? undefined
    : { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), fullname: f[4]!.split(',')[0]!, home: f[5]!, shell: f[6]! };
}

/** A user by name or uid, through NSS (`getent`), so LDAP/SSSD users count too. */
export const user = commandFact('account.user', (name: string) => ['getent', 'passwd', name], passwdEntry);

/** A group's gid by name or number. */
export const group = commandFact(
  'account.group',
  (name: string) => ['getent', 'group', name],
  (out): number | undefined => {
    const f = entry(out);
    return f.length >= 3 ? Number(f[2]) : undefined;
  },
);

/** Every group with its members (`getent group`; exit 2 would be "no groups at all"). */
export const groups = commandFact(
  'account.groups',
  () => ['getent', 'group'],
  (out): GroupInfo[] => {
    if (out.exitCode !== 0 && out.exitCode !== 2) throw new Error(`getent could not list groups: ${failure(out)}`);
    return out.stdout
      .split('\n')
      .map((line) => line.split(':'))
      .filter((f) => f.length >= 4)
      .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: f[3] ? f[3].split(',') : [] }));
  },
);

/**
 * A fingerprint (SHA-256) of a user's password hash, to compare with the one a state wants:
 * the hash leaves no further than the parser (and getent is started directly, so it never
 * passes the spawner co-process). `''` for an empty password, undefined without a shadow entry.
 */
export const passwordFingerprint = commandFact(
  'account.passwordFingerprint',
  (name: string) => ['getent', 'shadow', name],
  (out): string | undefined => {
    const f = entry(out);
    return f.length < 2 ? undefined : f[1] === '' ? '' : fingerprint(f[1]!);
  },
  { secretOutput: true },
);

export const fingerprint = (hash: string): string => createHash('sha256').update(hash).digest('hex');
