import type { Logger } from '@brine/common';
import type * as zmq from 'zeromq';

/** After libzmq's end of monitoring, time for its reaper thread to drop the monitor's endpoint (a loaded one, too). */
const END_MARGIN_MS = 10_000;
/** How often kept observers due to go are let go. */
const SWEEP_MS = 5000;
/** How long a retired observer is kept, open, when libzmq's end has not come through: then it is closed. */
const KEEP_MAX_MS = 120_000;
/** Retired observers kept at most (a few hundred bytes each). */
const KEEP_MAX = 32_768;
/** Observer constructions tried per socket before it goes unmonitored. */
const ATTEMPTS = 16;
const WARN_EVERY_MS = 10 * 60_000;

/** Retired observers, oldest first, with the time each may be let go. */
const kept = new Map<zmq.Observer, number>();
let sweeper: NodeJS.Timeout | undefined;
let warnedAt = Number.NEGATIVE_INFINITY;
/** Since start: observers that met an endpoint libzmq still held, and sockets left unmonitored. */
const counts = { collisions: 0, unmonitored: 0 };

/**
 * A socket's connection events (zeromq.js's Observer): opened so that it never throws,
 * retired so that its name cannot be taken again while libzmq still uses it.
 *
 * zeromq.js binds each Observer's libzmq monitor to `inproc://zmq.monitor.<the native
 * Observer object's address>`. libzmq drops that endpoint only once its reaper thread has
 * finished with the monitored socket, some time after close (later under load: a fleet's
 * worth of sockets in one process). An Observer garbage-collected before then frees its
 * address, malloc may hand it to the next Observer, and that one's monitor fails with
 * EADDRINUSE: `socket.events` throws. Hence:
 * - a retired observer stays referenced until libzmq has said it is done with the socket
 *   (the `end` event, at which the observer closes itself) and a margin for the reaper, or
 *   KEEP_MAX_MS when it never says so (an event loop too starved to read it, or the event
 *   lost): then it is closed; KEEP_MAX of them at most, the oldest go first. Never sooner:
 *   an observer closed before libzmq has ended its socket leaks the socket, its monitor and
 *   itself for good (their descriptors too: a fleet's worth of minions in one process, slow
 *   to end their sockets in a storm, ran out of descriptors when this was 1 s);
 * - a collision still met is retried: a failed construction is not cached by the socket,
 *   and the next Observer is in practice allocated elsewhere (with 50 endpoints left
 *   behind, at most 3 failures in a row were seen);
 * - after ATTEMPTS, the socket goes unmonitored (said at most once per WARN_EVERY_MS).
 */
export class SocketMonitor {
  /** libzmq reported the end of monitoring: the socket is gone. */
  private ended = false;
  private retired = false;

  private constructor(private readonly observer: zmq.Observer | undefined) {}

  /** The socket's monitor; one that reports nothing when none could be made. */
  static open(socket: zmq.Socket, log: Logger): SocketMonitor {
    for (let attempt = 1; ; attempt++) {
      try {
        return new SocketMonitor(socket.events);
      } catch (err) {
        const collision = (err as { code?: string }).code === 'EADDRINUSE';
        if (collision) counts.collisions++;
        if (collision && attempt < ATTEMPTS) {
          log.debug({ attempt }, 'socket monitor endpoint still in use by libzmq, trying another');
          continue;
        }
        counts.unmonitored++;
        warnUnmonitored(log, err);
        return new SocketMonitor(undefined);
      }
    }
  }

  /** The socket's events until the monitor closes (libzmq's end, or KEEP_MAX_MS after retire). */
  async *events(): AsyncGenerator<zmq.Event> {
    if (!this.observer) return;
    for await (const event of this.observer as AsyncIterable<zmq.Event | undefined>) {
      // A receive pending when the observer is closed resolves with nothing.
      if (event === undefined) return;
      if (event.type === 'end') this.end();
      yield event;
    }
  }

  /** Once its socket is closed: the observer closes itself at libzmq's end, or is closed when let go. */
  retire(): void {
    const observer = this.observer;
    if (!observer || this.retired) return;
    this.retired = true;
    keep(observer, Date.now() + (this.ended ? END_MARGIN_MS : KEEP_MAX_MS));
  }

  private end(): void {
    this.ended = true;
    if (this.observer && kept.has(this.observer)) kept.set(this.observer, Date.now() + END_MARGIN_MS);
  }
}

function keep(observer: zmq.Observer, until: number): void {
  kept.set(observer, until);
  for (const oldest of kept.keys()) {
    if (kept.size <= KEEP_MAX) break;
    letGo(oldest);
  }
  sweeper ??= setInterval(sweep, SWEEP_MS).unref();
}

function sweep(): void {
  const now = Date.now();
  for (const [observer, until] of kept) if (until <= now) letGo(observer);
  if (kept.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

function letGo(observer: zmq.Observer): void {
  kept.delete(observer);
  if (!observer.closed) observer.close();
}

function warnUnmonitored(log: Logger, err: unknown): void {
  const now = Date.now();
  if (now - warnedAt < WARN_EVERY_MS) return;
  warnedAt = now;
  log.warn(
    { err: (err as Error).message },
    'no connection events for a socket to the master (zeromq socket monitor failed): it runs without them, a silent master is found by timeouts alone',
  );
}

/** For benches: collisions met and sockets left unmonitored since start, retired observers kept now. */
export function socketMonitorCounts(): { collisions: number; unmonitored: number; kept: number } {
  return { ...counts, kept: kept.size };
}
