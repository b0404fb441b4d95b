import { randomBytes } from 'node:crypto';
import {
  ClientHandshake,
  decodeFrame,
  decodePayload,
  encodeMsg,
  encodePayload,
  FrameType,
  MinionIdentity,
  X25519Key,
  type Frame,
  type Json,
  type MsgFrame,
  type Payload,
  type SessionCipher,
  type WelcomeFrame,
} from '@brine/protocol';
import * as zmq from 'zeromq';

const LIMIT = 64 << 20;

/**
 * A minion built from the protocol library alone, for tests that must act like
 * an attacker on the wire: capture a frame and send it again, flip a bit, or
 * send garbage. It talks to the real master process over a real socket.
 */
export class RawClient {
  readonly socket: zmq.Dealer;
  readonly identity: MinionIdentity;
  session: { id: Uint8Array; cipher: SessionCipher } | undefined;
  /** The last AUTH frame sent, for replay tests. */
  authFrame: Uint8Array | undefined;
  private nextId = 1;

  /** `source`: the local IPv4 address to connect from (e.g. 127.0.0.2). */
  constructor(port: number, id: string, key: X25519Key | MinionIdentity = X25519Key.generate(), source?: string) {
    const routingId = randomBytes(16).toString('hex');
    this.socket = new zmq.Dealer({ routingId, plainUsername: routingId, plainPassword: 'x', linger: 0, receiveTimeout: 1500 });
    this.socket.connect(`tcp://${source ? `${source}:0;` : ''}127.0.0.1:${port}`);
    this.identity = key instanceof MinionIdentity ? key : new MinionIdentity(id, key);
  }

  async sendRaw(...frames: Uint8Array[]): Promise<void> {
    await this.socket.send(frames.map((f) => Buffer.from(f)));
  }

  /** Next frame from the master, or undefined if none arrives in time. */
  async receive(): Promise<Frame | undefined> {
    try {
      const [raw] = await this.socket.receive();
      return decodeFrame(raw!, LIMIT);
    } catch (err) {
      if ((err as { code?: string }).code === 'EAGAIN') return undefined;
      throw err;
    }
  }

  /** Full handshake trusting any master; returns the auth result header. */
  async handshake(role: 'cli' | 'daemon' = 'cli', grains: Record<string, string> = {}): Promise<Payload> {
    const hs = new ClientHandshake();
    await this.sendRaw(hs.helloFrame);
    const welcome = (await this.receive()) as WelcomeFrame;
    if (welcome?.type !== FrameType.Welcome) throw new Error(`expected WELCOME, got ${JSON.stringify(welcome)}`);
    const first = encodePayload({ t: 'req', id: 0, op: 'hello', args: { role, grains } });
    const { authFrame, cipher } = hs.complete(welcome, this.identity, () => {}, first);
    this.authFrame = authFrame;
    await this.sendRaw(authFrame);
    const reply = (await this.receive()) as MsgFrame;
    if (reply?.type !== FrameType.Msg) throw new Error(`expected MSG, got ${JSON.stringify(reply)}`);
    const payload = decodePayload(cipher.open(reply.counter, reply.ciphertext));
    if (payload.header.t === 'auth' && payload.header.status === 'accepted') this.session = { id: reply.sessionId.slice(), cipher };
    return payload;
  }

  /** A sealed request frame, not yet sent (so a test can send it twice or bend it). */
  request(op: string, args: Record<string, Json> = {}): Uint8Array {
    const s = this.session!;
    const { counter, ciphertext } = s.cipher.seal(encodePayload({ t: 'req', id: this.nextId++, op, args }));
    return encodeMsg({ sessionId: s.id, counter, ciphertext });
  }

  /** Sends a frame and opens the reply, or returns undefined when the master stays silent. */
  async call(frame: Uint8Array): Promise<Payload | undefined> {
    await this.sendRaw(frame);
    return this.next();
  }

  /** The next message of the session (a reply or a pushed job), or undefined if none comes in time. */
  async next(): Promise<Payload | undefined> {
    const reply = await this.receive();
    if (!reply) return undefined;
    if (reply.type !== FrameType.Msg) throw new Error(`expected MSG, got type ${reply.type}`);
    return decodePayload(this.session!.cipher.open(reply.counter, reply.ciphertext));
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * The identity a thief holding the master's X25519 secret key (master.box.key)
 * presents for a minion whose secret it lacks: the victim's public key, and the
 * static shared key computed from the master's side. Everything the thief cannot
 * compute it does with a key of its own.
 */
export function stolenMasterKeyIdentity(id: string, victimPublic: Uint8Array, masterBox: X25519Key): MinionIdentity {
  return new (class extends MinionIdentity {
    override get publicKey(): Uint8Array {
      return victimPublic;
    }
    override staticShared(): Uint8Array {
      return masterBox.agree(victimPublic);
    }
  })(id, X25519Key.generate());
}
