import { EventLoopSlice, SendQueue, type Logger } from '@brine/common';
import * as zmq from 'zeromq';
import { PeerBook, type OfferRefusal } from './peer-book.js';

/** The ZAP endpoint libzmq asks about every new connection on a socket with a ZAP domain. */
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const ROUTING_ID_HEX = /^[0-9a-f]{32}$/;
/** libzmq's ZMQ_ROUTER_NOTIFY (a draft option the bundled libzmq has): connect and disconnect notices. */
const ZMQ_ROUTER_NOTIFY = 97;
const NOTIFY_CONNECT_AND_DISCONNECT = 3;
/** Best-effort frames (WELCOME, REFUSE) queued beyond this are dropped: a flood cannot grow the queue. */
const MAX_QUEUED_BEST_EFFORT = 20_000;

const KEEPALIVE_PROBES = 3;

/**
 * Longest the receive loop runs without letting the event loop poll other I/O.
 * zeromq.js resolves a receive at once while messages are queued, so in a boot
 * storm the loop would otherwise run on microtasks alone and starve timers and
 * the etcd client (its calls then miss their deadlines and the master goes stale).
 */
const MAX_RECEIVE_SLICE_MS = 10;

/** Keepalive timing (seconds) that gives up on a silent peer within the timeout: idle, then three probes. */
function keepaliveFor(timeoutMs: number): { keepaliveIdle: number; keepaliveInterval: number } {
  const total = Math.max(4, Math.floor(timeoutMs / 1000));
  const interval = Math.max(1, Math.floor(total / (2 * KEEPALIVE_PROBES)));
  return { keepaliveIdle: Math.max(1, total - interval * KEEPALIVE_PROBES), keepaliveInterval: interval };
}

export interface TransportOptions {
  endpoint: string;
  /** Listen on IPv6 (the endpoint names an IPv6 interface). */
  ipv6?: boolean;
  backlog: number;
  /** libzmq I/O threads of the process's context; set before its first socket, or it has no effect. */
  ioThreads?: number;
  /** libzmq drops peers sending larger messages; set above the audited limit. */
  hardMessageLimit: number;
  /** A connection whose peer stops answering TCP keepalive probes is dropped within this long. */
  peerTimeoutMs: number;
  /** Live connections one address may hold; more are refused before they carry anything. */
  maxConnectionsPerAddress: number;
  /** Called for each connection ZAP refuses (for the rate-limited audit log). */
  onRefusedConnection?: (address: string, why: OfferRefusal | 'not_plain') => void;
}

/**
 * The master's ZeroMQ side: one ROUTER socket for all minions, a ZAP handler
 * that learns each connection's peer address, and connect/disconnect notices
 * that bind it to the connection's routing id (see PeerBook). PLAIN here
 * authenticates nothing (that is the handshake's job); it only carries the
 * routing id to the ZAP handler.
 */
export class MasterTransport {
  private readonly router: zmq.Router;
  private readonly zap: zmq.Router;
  readonly peers: PeerBook;
  private readonly sender: SendQueue<[Buffer, Uint8Array]>;
  private readonly sweeper: NodeJS.Timeout;
  private queued = 0;

  constructor(
    private readonly opts: TransportOptions,
    private readonly log: Logger,
  ) {
    const { keepaliveIdle, keepaliveInterval } = keepaliveFor(opts.peerTimeoutMs);
    if (opts.ioThreads !== undefined) zmq.context.ioThreads = opts.ioThreads;
    this.zap = new zmq.Router();
    this.router = new zmq.Router({
      zapDomain: 'brine',
      plainServer: true,
      ipv6: opts.ipv6 === true,
      backlog: opts.backlog,
      maxMessageSize: opts.hardMessageLimit,
      mandatory: true,
      // A peer whose queue is full (a slow or hostile reader) loses that frame; it never holds
      // up the frames queued behind it for every other minion.
      sendTimeout: 0,
      sendHighWaterMark: 1000,
      receiveHighWaterMark: 10_000,
      // Vanished peers (link cut, host gone) are released, with their state, within peer_timeout:
      // TCP keepalive probes an idle connection and the kernel drops it when nothing answers.
      // Not ZMTP heartbeats: libzmq 4.3.5 aborts (stream_engine_base.cpp:310, out_event asserting
      // !_io_error) when a heartbeat timer fires on a connection whose peer hung up while its
      // input was stopped by a full receive queue, which any peer can arrange.
      tcpKeepalive: 1,
      tcpKeepaliveIdle: keepaliveIdle,
      tcpKeepaliveInterval: keepaliveInterval,
      tcpKeepaliveCount: KEEPALIVE_PROBES,
      linger: 0,
    });
    // zeromq.js names no accessor for this option; its generic setter is protected in the typings only.
    (this.router as unknown as { setInt32Option(option: number, value: number): void }).setInt32Option(
      ZMQ_ROUTER_NOTIFY,
      NOTIFY_CONNECT_AND_DISCONNECT,
    );
    this.sender = new SendQueue(this.router);
    // Offers wait for libzmq's handshake (ZMQ_HANDSHAKE_IVL, 30 s by default).
    this.peers = new PeerBook({ offerTtlMs: 30_000, maxPerAddress: opts.maxConnectionsPerAddress, maxOffers: 100_000 });
    this.sweeper = setInterval(() => this.peers.sweep(), 5_000).unref();
  }

  async start(): Promise<void> {
    await this.zap.bind(ZAP_ENDPOINT);
    void this.serveZap();
    await this.router.bind(this.opts.endpoint);
  }

  /** The TCP peer address of the live connection behind a routing id; undefined if it has none. */
  peerOf(routingId: Buffer): string | undefined {
    return this.peers.addressOf(routingId);
  }

  /** Frames from peers, each `[routing id, ...body]`; connect/disconnect notices are consumed here. */
  async *messages(): AsyncGenerator<Buffer[]> {
    const slice = new EventLoopSlice(MAX_RECEIVE_SLICE_MS);
    for await (const frames of this.router) {
      if (slice.over()) await slice.pause();
      // Brine frames are never empty, so an empty single body is a ROUTER_NOTIFY notice.
      if (frames.length === 2 && frames[1]!.length === 0) {
        this.peers.notice(frames[0]!);
        continue;
      }
      yield frames;
    }
  }

  /** Sends one frame to a connection; a vanished or full peer is not an error worth more than a debug line. */
  async send(routingId: Buffer, frame: Uint8Array): Promise<boolean> {
    try {
      await this.sender.send([routingId, frame]);
      return true;
    } catch (err) {
      this.log.debug({ err: (err as Error).message, peer: this.peerOf(routingId) }, 'send failed');
      return false;
    }
  }

  /**
   * For frames a peer can make the master send at will (WELCOME, REFUSE): dropped
   * rather than queued once the send queue is long, so memory stays bounded.
   */
  sendBestEffort(routingId: Buffer, frame: Uint8Array): void {
    if (this.queued >= MAX_QUEUED_BEST_EFFORT) return;
    this.queued++;
    void this.send(routingId, frame).finally(() => this.queued--);
  }

  private async serveZap(): Promise<void> {
    const replies = new SendQueue<Buffer[]>(this.zap);
    for await (const [route, empty, version, requestId, , address, , mechanism, user] of this.zap) {
      const name = user?.toString() ?? '';
      const from = address?.toString() ?? '';
      const refusal = mechanism?.toString() === 'PLAIN' && ROUTING_ID_HEX.test(name) ? this.peers.offer(name, from) : 'not_plain';
      if (refusal) this.opts.onRefusedConnection?.(from, refusal);
      const status = refusal ? ['400', REFUSAL_TEXT[refusal]] : ['200', 'OK'];
      await replies.send([
        route!,
        empty!,
        version!,
        requestId!,
        Buffer.from(status[0]!),
        Buffer.from(status[1]!),
        Buffer.alloc(0),
        Buffer.alloc(0),
      ]);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    this.router.close();
    this.zap.close();
  }
}

const REFUSAL_TEXT: Record<OfferRefusal | 'not_plain', string> = {
  not_plain: 'expected PLAIN with the routing id as user name',
  name_in_use: 'user name already in use by another connection',
  address_limit: 'too many connections from this address',
  offers_full: 'too many connections in progress',
};
