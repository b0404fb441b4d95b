import { execFileSync } from 'node:child_process';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

/** Why this host cannot make a network namespace (not root, no iproute2), or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    ip('netns', 'list');
    return undefined;
  } catch (err) {
    return `'ip netns' is unavailable: ${(err as Error).message}`;
  }
}

/**
 * A network namespace of the test's own joined to the host by a veth pair: the
 * host end `hostIp`, the namespace's end `peerIp`, a /30 of 10.`octet`.0.0/16
 * chosen by the process id, so a link a crashed run left behind cannot take this
 * run's traffic. `prefix` names the namespace and the interfaces (at most 15
 * characters with the pid).
 */
export class VethNamespace {
  readonly name: string;
  readonly hostIp: string;
  readonly peerIp: string;
  readonly subnet: string;
  private readonly hostIf: string;
  private readonly peerIf: string;

  constructor(prefix: string, octet: number) {
    this.name = `brine-${prefix}-${process.pid}`;
    const net = `10.${octet}.${process.pid % 250}`;
    this.subnet = `${net}.0/30`;
    this.hostIp = `${net}.1`;
    this.peerIp = `${net}.2`;
    this.hostIf = `${prefix[0]}v${process.pid}h`;
    this.peerIf = `${prefix[0]}v${process.pid}p`;
  }

  /** `ip netns exec NAME`: run a command (it keeps its pid: ip execs it) in the namespace. */
  get exec(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  create(): void {
    ip('netns', 'add', this.name);
    ip('link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.peerIf);
    ip('link', 'set', this.peerIf, 'netns', this.name);
    ip('addr', 'add', `${this.hostIp}/30`, 'dev', this.hostIf);
    ip('link', 'set', this.hostIf, 'up');
    this.ipInside('addr', 'add', `${this.peerIp}/30`, 'dev', this.peerIf);
    this.ipInside('link', 'set', this.peerIf, 'up');
    this.ipInside('link', 'set', 'lo', 'up');
  }

  /** `ip ARGS` run in the namespace. */
  private ipInside(...args: string[]): void {
    ip('netns', 'exec', this.name, 'ip', ...args);
  }

  /** Cuts the link: the namespace's end goes down, and its peers stop answering anything. */
  cut(): void {
    this.ipInside('link', 'set', this.peerIf, 'down');
  }

  /** Once what ran in it is stopped. The pair goes with the namespace only once nothing runs in it; the host end is deleted for sure. */
  remove(): void {
    for (const args of [
      ['netns', 'del', this.name],
      ['link', 'del', this.hostIf],
    ]) {
      try {
        ip(...args);
      } catch {
        // already gone
      }
    }
  }
}
