import type { CommandRunner } from '../run/runner.js';

export interface UserInfo {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** A user by name or uid, through NSS (`getent`), so LDAP/SSSD users count too. */
export async function lookupUser(runner: CommandRunner, user: string): Promise<UserInfo | undefined> {
  const r = await runner.run('getent', ['passwd', user]);
  const f = r.exitCode === 0 ? r.stdout.split('\n')[0]!.split(':') : [];
  if (f.length < 7) return undefined;
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
}

/** A group's gid by name or number. */
export async function lookupGroup(runner: CommandRunner, group: string): Promise<number | undefined> {
  const r = await runner.run('getent', ['group', group]);
  const f = r.exitCode === 0 ? r.stdout.split('\n')[0]!.split(':') : [];
  return f.length >= 3 ? Number(f[2]) : undefined;
}

/** The process options that make a command run as `user`, with that user's HOME and name. */
export function runAsOptions(user: UserInfo): { uid: number; gid: number; env: Record<string, string> } {
  return { uid: user.uid, gid: user.gid, env: { HOME: user.home, USER: user.name, LOGNAME: user.name } };
}
