import { commandFact } from './fact.js';

export interface UserInfo {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The first line's `:`-separated fields when getent found the entry, else none. */
const entry = (out: { exitCode: number; stdout: string }): string[] => (out.exitCode === 0 ? out.stdout.split('\n')[0]!.split(':') : []);

/** The user in `getent passwd <name>`'s output, if it found one. */
export function passwdEntry(out: { exitCode: number; stdout: string }): UserInfo | undefined {
  const f = entry(out);
  return f.length < 7 ? undefined : { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
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
