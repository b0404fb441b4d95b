import { SendQueue, type Logger } from '@brine/common';
import * as zmq from 'zeromq';

/** The ZAP endpoint libzmq asks about every new connection on a socket with a ZAP domain. */
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const ROUTING_ID_HEX = /^[0-9a-f]{32}$/;

export interface TransportOptions {
  endpoint: string;
  backlog: number;
  /** libzmq drops peers sending larger messages; set above the audited limit. */
  hardMessageLimit: number;
}

/**
 * The master's ZeroMQ side: one ROUTER socket for all minions, and a ZAP handler
 * that learns each connection's peer address. libzmq does not tell a ROUTER
 * where a message came from, but it does tell the ZAP handler the address and
 * the PLAIN user name of each new connection; minions send their routing id as
 * that user name, which links messages to addresses for the audit log. PLAIN
 * here authenticates nothing (that is the handshake's job); it only carries the
 * routing id.
 */
export class MasterTransport {
  private readonly router: zmq.Router;
  private readonly zap = new zmq.Router();
  private readonly peers = new Map<string, string>();
  private readonly sender: SendQueue<[Buffer, Uint8Array]>;

  constructor(
    private readonly opts: TransportOptions,
    private readonly log: Logger,
  ) {
    this.router = new zmq.Router({
      zapDomain: 'brine',
      plainServer: true,
      backlog: opts.backlog,
      maxMessageSize: opts.hardMessageLimit,
      mandatory: true,
      sendHighWaterMark: 10_000,
      receiveHighWaterMark: 10_000,
      linger: 0,
    });
    this.sender = new SendQueue(this.router);
  }

  async start(): Promise<void> {
    await this.zap.bind(ZAP_ENDPOINT);
    void this.serveZap();
    await this.router.bind(this.opts.endpoint);
  }

  /** The TCP peer address of the connection behind a routing id, if known. */
  peerOf(routingId: Buffer): string | undefined {
    return this.peers.get(routingId.toString('latin1'));
  }

  messages(): AsyncIterable<Buffer[]> {
    return this.router;
  }

  /** Sends one frame to a connection; a vanished peer is not an error worth more than a debug line. */
  async send(routingId: Buffer, frame: Uint8Array): Promise<boolean> {
    try {
      await this.sender.send([routingId, frame]);
      return true;
    } catch (err) {
      this.log.debug({ err: (err as Error).message, peer: this.peerOf(routingId) }, 'send failed');
      return false;
    }
  }

  private async serveZap(): Promise<void> {
    const replies = new SendQueue<Buffer[]>(this.zap);
    for await (const [route, empty, version, requestId, , address, , mechanism, user] of this.zap) {
      const name = user?.toString() ?? '';
      const ok = mechanism?.toString() === 'PLAIN' && ROUTING_ID_HEX.test(name);
      if (ok) {
        if (this.peers.size > 200_000) this.peers.clear();
        this.peers.set(name, address!.toString());
      }
      const status = ok ? ['200', 'OK'] : ['400', 'expected PLAIN with the routing id as user name'];
      await replies.send([route!, empty!, version!, requestId!, Buffer.from(status[0]!), Buffer.from(status[1]!), Buffer.alloc(0), Buffer.alloc(0)]);
    }
  }

  close(): void {
    this.router.close();
    this.zap.close();
  }
}
