import type { Logger } from '@brine/common';
import { Range, type IKeyValue, type Namespace, type Watcher } from 'etcd3';
import { etcdCall, retryEtcd } from './etcd.js';

/** Entries read per range call at a (re)load: a large job cache never makes one huge answer. */
const PAGE = 500;

/** What a follower tells its owner, in etcd's order. Keys are relative to the followed prefix. */
export interface PrefixHandler {
  /** Before a (re)load replays every entry: forget what the last one said. */
  reset?(): void;
  /** `loaded`: from a (re)load rather than the watch (nothing new happened; e.g. do not deliver a job). */
  put(key: string, value: Buffer, kv: IKeyValue, loaded: boolean): void;
  delete(key: string): void;
}

/**
 * Follows everything below one etcd prefix: reads it in pages at one revision, then
 * watches from just after it, so no change falls between. A watch that etcd cancels
 * (its history compacted past where the watch would resume) cannot catch up: the
 * follower reads everything again.
 */
export class PrefixFollower {
  private revision = 0;
  private watcher: Watcher | undefined;
  private closed = false;

  private constructor(
    private readonly ns: Namespace,
    private readonly prefix: string,
    private readonly handler: PrefixHandler,
    private readonly log: Logger,
  ) {}

  /** Loads and follows `prefix`; fails when etcd cannot be read. */
  static async start(ns: Namespace, prefix: string, handler: PrefixHandler, log: Logger): Promise<PrefixFollower> {
    const follower = new PrefixFollower(ns, prefix, handler, log);
    await follower.load();
    return follower;
  }

  close(): void {
    this.closed = true;
    void this.watcher?.cancel();
  }

  private async load(): Promise<void> {
    const what = `reading ${this.prefix} from etcd`;
    const { end } = Range.prefix(this.prefix);
    let start: Buffer = Buffer.from(this.prefix);
    let at: string | undefined;
    this.handler.reset?.();
    for (;;) {
      const builder = this.ns.getAll().inRange(new Range(start, end)).limit(PAGE);
      const res = await etcdCall(what, (at === undefined ? builder : builder.revision(at)).exec());
      at ??= res.header.revision;
      for (const kv of res.kvs) this.handler.put(this.relative(kv.key), kv.value, kv, true);
      if (!res.more || res.kvs.length === 0) break;
      start = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    this.revision = Number(at);
    this.watch();
  }

  private relative(key: Buffer): string {
    return key.toString('utf8').slice(this.prefix.length);
  }

  private watch(): void {
    const w = this.ns
      .watch()
      .prefix(this.prefix)
      .startRevision(String(this.revision + 1))
      .watcher();
    w.on('data', (res) => {
      for (const ev of res.events) {
        this.revision = Math.max(this.revision, Number(ev.kv.mod_revision));
        if (ev.type === 'Put') this.handler.put(this.relative(ev.kv.key), ev.kv.value, ev.kv, false);
        else this.handler.delete(this.relative(ev.kv.key));
      }
    });
    // Resume after what was handled, not after the last response header (see EtcdKeyStore.watch).
    w.on('disconnected', () => {
      w.request.start_revision = this.revision + 1;
    });
    w.on('error', (err) => {
      this.watcher = undefined;
      this.log.warn({ err: err.message, prefix: this.prefix }, 'etcd watch cancelled; reading everything below the prefix again');
      void this.reload();
    });
    this.watcher = w;
  }

  private reload(): Promise<void> {
    return retryEtcd(
      this.prefix,
      () => this.load(),
      () => this.closed,
      this.log,
    );
  }
}
