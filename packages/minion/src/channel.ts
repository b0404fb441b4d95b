import { randomBytes } from 'node:crypto';
import { BrineError, SendQueue, type Logger } from '@brine/common';
import {
  ClientHandshake,
  decodeFrame,
  decodePayload,
  encodeMsg,
  encodePayload,
  FrameType,
  ProtocolError,
  RefuseCode,
  type AuthResult,
  type Frame,
  type Job,
  type Json,
  type MasterTrust,
  type MinionIdentity,
  type MsgFrame,
  type Payload,
  type ProtocolErrorCode,
  type Request,
  type Response,
  type SessionCipher,
} from '@brine/protocol';
import * as zmq from 'zeromq';
import { masterLabel } from './masters.js';
import { SocketMonitor } from './socket-monitor.js';

/**
 * Why a call to the master failed. `code` is one of: timeout, unreachable,
 * session_lost, pending, rejected, denied, refused, cluster_stale, network_refused, master_mismatch
 * (or another handshake error of the protocol's), auth_failed, revoked, closed, or
 * an error code the master returned for the request (not_found, pillar_render_failed, ...).
 */
export class ChannelError extends BrineError {}

/** Handshake failures that are about the master at the other end: it could not prove itself or speak the protocol. */
const MASTER_REFUSED: ReadonlySet<string> = new Set<ProtocolErrorCode>([
  'bad_frame',
  'bad_payload',
  'bad_signature',
  'bad_key',
  'master_mismatch',
  'tampered',
  'replay',
  'cookie_invalid',
]);

/**
 * The master could not be reached, stopped answering, failed the handshake, or
 * was cut off from the cluster's etcd (`cluster_stale`): another master may do
 * better. Not an answer about this minion (pending, rejected, revoked) or about
 * the request: every master of a cluster gives those alike.
 */
export function masterUnavailable(err: unknown): boolean {
  if (!(err instanceof ChannelError)) return false;
  return (
    err.code === 'timeout' ||
    err.code === 'unreachable' ||
    err.code === 'auth_failed' ||
    err.code === 'cluster_stale' ||
    MASTER_REFUSED.has(err.code)
  );
}

/**
 * Codes a master puts before a `refused` auth result's message (PROTOCOL.md):
 * `cluster_stale` (a cluster master cut off from etcd past cluster.stale_max),
 * `network_refused` (this minion may not be served from its address: minion_networks).
 */
const REFUSED_CODES = ['cluster_stale', 'network_refused'];

/** A refused handshake's error code: the master's code when it gives one, else its auth status. */
const authErrorCode = ({ status, message }: AuthResult): string =>
  (status === 'refused' && REFUSED_CODES.find((code) => message.startsWith(`${code}:`))) || status;

/** What callers need of the minion's link to its master: one master's channel, or a failover over several. */
export interface MasterLink {
  /** Whether a session is open. */
  readonly established: boolean;
  /** The master in use (`host:port`), for logs. */
  readonly master: string;
  connect(): Promise<void>;
  request(op: string, args?: Request['args']): Promise<Reply>;
  onJob(handler: (job: Job) => void): void;
  onSession(handler: () => void): void;
  close(): void;
}

export interface ChannelOptions {
  host: string;
  port: number;
  identity: MinionIdentity;
  trust: MasterTrust;
  role: 'daemon' | 'cli';
  grains: Record<string, Json>;
  timeoutMs: number;
  log: Logger;
  /** Largest frame accepted from the master. */
  maxMessageBytes?: number;
  /** Local address to connect from (config source_address); unset, the kernel chooses. */
  sourceAddress?: string | undefined;
  /** Re-key (a fresh handshake, fresh ephemeral keys) once a session is this old or has carried this many messages. */
  rekey?: { afterMs: number; afterMessages: number };
  /**
   * For a minion that has other masters to go to: when the TCP connection cannot
   * be made (refused, unresolvable, no answer within CONNECT_TIMEOUT_MS) or drops,
   * the handshake and requests in flight fail at once with `unreachable` instead
   * of waiting for libzmq to reconnect; `onLost` hears of it when it ends an open session.
   */
  failFast?: { onLost: () => void };
}

/**
 * zmq_connect handles its socket's pending commands first, in a poll that a signal
 * interrupts (EINTR) whatever SA_RESTART says: a child's SIGCHLD (a state running a
 * command) or a profiler's SIGPROF. Nothing was done then; the call is simply made again.
 */
function connectRestarting(socket: zmq.Dealer, endpoint: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      socket.connect(endpoint);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EINTR' || attempt >= 10) throw err;
    }
  }
}

/**
 * How many timeouts a handshake waits on a master whose connection is
 * up (it is alive, only slow) before it gives up on that master.
 */
const BUSY_MASTER_PATIENCE = 3;

/** TCP connect timeout with failFast: a live master answers a SYN in milliseconds; this leaves room for two SYN retransmits. */
const CONNECT_TIMEOUT_MS = 5_000;

interface OpenSession {
  id: Uint8Array;
  cipher: SessionCipher;
}

/** A reply to a request: a JSON value, or raw bytes the caller must zero after use. */
export interface Reply {
  value: Json | undefined;
  raw: Uint8Array | undefined;
}

interface Pending<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** A handshake in progress; it may carry the session's first request, whose reply settles `done`. */
type HandshakeState = { first: Request | undefined; done: Pending<Payload | undefined> } & (
  | { step: 'welcome'; hs: ClientHandshake }
  | { step: 'auth'; cipher: SessionCipher; served: Uint8Array }
);

/**
 * Worth one fresh handshake and an immediate retry: the master restarted and
 * forgot the session. A timeout is not: an overloaded master would get the same
 * work again at once, so callers retry those with backoff.
 */
const RETRYABLE = new Set(['session_lost']);

/**
 * The minion's encrypted session with its master over one DEALER socket.
 * libzmq reconnects the TCP connection by itself; this class re-runs the
 * handshake when the master no longer knows the session (a restart) or stops
 * answering, so callers only see a request succeed or fail with a ChannelError.
 */
export class MasterChannel implements MasterLink {
  private socket!: zmq.Dealer;
  private monitor!: SocketMonitor;
  private sender!: SendQueue<Uint8Array>;
  private readonly limit: number;
  private session: OpenSession | undefined;
  /** The session a re-key replaced, kept for one timeout to read what the master sent on it before it saw the new one. */
  private retired: { session: OpenSession; timer: NodeJS.Timeout } | undefined;
  private rekeyTimer: NodeJS.Timeout | undefined;
  private rekeyDue = false;
  private handshake: HandshakeState | undefined;
  private connecting: Promise<Payload | undefined> | undefined;
  private readonly waiting = new Map<number, Pending<Payload>>();
  private nextId = 1;
  private closed = false;
  /** The socket's connection completed its ZMTP handshake and has not dropped since. */
  private masterAlive = false;
  private jobHandler: ((job: Job) => void) | undefined;
  /** Whether HELLOs name the pinned master key; off once a master refused such a HELLO (an older master). */
  private pinHello = true;
  private sessionHandler: (() => void) | undefined;

  readonly master: string;

  constructor(private readonly opts: ChannelOptions) {
    this.limit = opts.maxMessageBytes ?? 64 << 20;
    this.master = masterLabel(opts);
    this.openSocket();
  }

  /** A fresh DEALER socket, connected; replies and jobs arrive through `receive`. */
  private openSocket(): void {
    const routingId = randomBytes(16).toString('hex');
    const socket = new zmq.Dealer({
      routingId,
      // Carries the routing id to the master's ZAP handler (for audit peer addresses); not a credential.
      plainUsername: routingId,
      plainPassword: 'brine',
      linger: 0,
      // Spread reconnects of a fleet that lost its master at the same moment.
      reconnectInterval: 200 + Math.floor(Math.random() * 300),
      reconnectMaxInterval: 5000,
      heartbeatInterval: 10_000,
      heartbeatTimeout: 30_000,
      sendHighWaterMark: 100,
      // A send that cannot leave (no connection yet) fails after one timeout instead of
      // holding the send queue behind it. Not `immediate`: in a boot storm the master
      // takes a while to complete thousands of ZMTP handshakes, and messages must wait
      // in the pipe for that rather than fail and reconnect.
      sendTimeout: this.opts.timeoutMs,
      maxMessageSize: this.limit,
      ipv6: this.opts.host.includes(':'),
      ...(this.opts.failFast && { connectTimeout: Math.min(CONNECT_TIMEOUT_MS, this.opts.timeoutMs) }),
    });
    const monitor = SocketMonitor.open(socket, this.opts.log);
    void this.watch(socket, monitor);
    this.masterAlive = false;
    // libzmq's `source;destination` endpoint binds the connection's local end (port 0: any).
    const source = this.opts.sourceAddress;
    const from = source === undefined ? '' : `${source.includes(':') ? `[${source}]` : source}:0;`;
    connectRestarting(socket, `tcp://${from}${this.master}`);
    this.socket = socket;
    this.monitor = monitor;
    this.sender = new SendQueue(socket);
    void this.receive(socket);
  }

  /**
   * What libzmq says of the socket's connection. Read here rather than through
   * zeromq.js's event emitter, whose loop rejects unhandled when its observer is
   * closed (closeSocket must close it). A socket whose monitor could not be made
   * reports nothing: its master never counts as alive (a handshake timeout renews
   * the socket, and with it the monitor) and failFast waits for timeouts.
   */
  private async watch(socket: zmq.Dealer, monitor: SocketMonitor): Promise<void> {
    try {
      for await (const event of monitor.events()) {
        if (socket !== this.socket) continue;
        // ZMTP (and ZAP) completed: a master, not a silent forwarder, holds the other end.
        if (event.type === 'handshake') this.masterAlive = true;
        else if (event.type === 'disconnect') this.masterAlive = false;
        // libzmq reports each failed or dropped connection as a retry it schedules.
        else if (event.type === 'connect:retry' && this.opts.failFast) this.linkDown();
      }
    } catch {
      // Closed by closeSocket.
    }
  }

  private closeSocket(socket: zmq.Dealer, monitor: SocketMonitor): void {
    socket.close();
    monitor.retire();
  }

  /**
   * A handshake that got no answer starts the next one on a new socket: a TCP
   * connection that a NAT forwarder accepted while the master was down can stay
   * open and silent, and libzmq would keep waiting on it.
   */
  private renewSocket(): void {
    if (this.closed) return;
    const [old, oldMonitor] = [this.socket, this.monitor];
    this.openSocket();
    this.closeSocket(old, oldMonitor);
  }

  /** failFast: the connection failed or dropped; whatever waits on this master fails now. */
  private linkDown(): void {
    const open = this.session !== undefined;
    if (!open && !this.handshake && this.waiting.size === 0) return;
    this.dropSession(new ChannelError('unreachable', `master ${this.master} refused, dropped or did not accept the connection`));
    if (open) this.opts.failFast?.onLost();
  }

  get established(): boolean {
    return this.session !== undefined;
  }

  /** Where jobs the master pushes go. */
  onJob(handler: (job: Job) => void): void {
    this.jobHandler = handler;
  }

  /** Called after every successful handshake (first connect and each reconnect). */
  onSession(handler: () => void): void {
    this.sessionHandler = handler;
  }

  /** Runs the handshake unless a session is open. Rejects with pending/rejected/denied/... */
  async connect(): Promise<void> {
    // A re-key under way: wait for it, since the master closes the old session when it sees the new one.
    if (this.session && this.connecting) await this.connecting.catch(() => undefined);
    if (this.session) return;
    await this.handshakeWith(undefined);
  }

  /** Starts a handshake (or joins the one under way); `first` rides in the AUTH and its reply comes back. */
  private handshakeWith(first: Request | undefined): Promise<Payload | undefined> {
    this.connecting ??= this.runHandshake(first).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** One request; retried once over a fresh session when the old one is gone. */
  async request(op: string, args: Request['args'] = {}): Promise<Reply> {
    try {
      return await this.requestOnce(op, args);
    } catch (err) {
      if (err instanceof ChannelError && err.code === 'timeout') this.dropSession(err);
      if (!(err instanceof ChannelError) || !RETRYABLE.has(err.code) || this.closed) throw err;
      this.dropSession();
      return this.requestOnce(op, args);
    }
  }

  close(): void {
    this.closed = true;
    this.dropSession(new ChannelError('closed', 'channel closed'));
    this.dropRetired();
    this.closeSocket(this.socket, this.monitor);
  }

  private async requestOnce(op: string, args: Request['args']): Promise<Reply> {
    const request: Request = { t: 'req', id: this.nextId++, op, args };
    // With no session yet, the request travels inside the handshake: one round trip fewer.
    const early = !this.session && !this.connecting ? await this.handshakeWith(request) : undefined;
    const { header, body } = early ?? (await this.send(request));
    return this.reply(header as Response, body);
  }

  private async send(request: Request): Promise<Payload> {
    await this.connect();
    const session = this.session!;
    const reply = this.expect(this.waiting, request.id, `${request.op} request`);
    const { counter, ciphertext } = session.cipher.seal(encodePayload(request));
    this.countMessage();
    this.sender.send(encodeMsg({ sessionId: session.id, counter, ciphertext })).catch((err: unknown) => {
      const waiter = this.waiting.get(request.id);
      if (!waiter) return;
      this.waiting.delete(request.id);
      clearTimeout(waiter.timer);
      waiter.reject(this.unreachable(`${request.op} request`, err));
    });
    return reply;
  }

  private reply(res: Response, body: Uint8Array | undefined): Reply {
    if (!res.ok) {
      const code = res.error?.code ?? 'error';
      if (code === 'revoked') this.dropSession();
      throw new ChannelError(code, res.error?.message ?? 'request failed');
    }
    return { value: res.value, raw: res.raw ? body : undefined };
  }

  private runHandshake(first: Request | undefined): Promise<Payload | undefined> {
    // Names the master key this minion pinned: during a rotation the master answers with that one (PROTOCOL.md).
    const hs = new ClientHandshake(this.pinHello ? this.opts.trust.pinned?.() : undefined);
    const patientUntil = Date.now() + this.opts.timeoutMs * BUSY_MASTER_PATIENCE;
    const done = new Promise<Payload | undefined>((resolve, reject) => {
      const expire = (error: Error): void => {
        // A live master that has not answered yet is busy (a boot storm): a new socket would put this
        // handshake at the back of its queue and leave it the old one to work on for nobody.
        if (this.masterAlive && Date.now() < patientUntil) {
          pending.timer = this.timer(expire, 'handshake');
          return;
        }
        this.finishHandshake({ error });
        this.renewSocket();
      };
      const pending: Pending<Payload | undefined> = { resolve, reject, timer: this.timer(expire, 'handshake') };
      this.handshake = { step: 'welcome', hs, first, done: pending };
    });
    this.sender.send(hs.helloFrame).catch((err: unknown) => {
      if (this.handshake?.step !== 'welcome' || this.handshake.hs !== hs) return;
      this.finishHandshake({ error: this.unreachable('handshake', err) });
      this.renewSocket();
    });
    return done;
  }

  private timer(fail: (e: Error) => void, what: string): NodeJS.Timeout {
    return setTimeout(() => {
      fail(
        new ChannelError(
          'timeout',
          `${what} timed out after ${this.opts.timeoutMs} ms (master ${this.master} unreachable or not answering)`,
        ),
      );
    }, this.opts.timeoutMs);
  }

  /** A send that could not leave: no connection to the master within the timeout. */
  private unreachable(what: string, err: unknown): ChannelError {
    const why = (err as { code?: string }).code === 'EAGAIN' ? `no connection within ${this.opts.timeoutMs} ms` : (err as Error).message;
    return new ChannelError('timeout', `${what} could not be sent to master ${this.master}: ${why}`);
  }

  private expect<K>(map: Map<K, Pending<Payload>>, key: K, what: string): Promise<Payload> {
    return new Promise<Payload>((resolve, reject) => {
      const timer = this.timer((e) => {
        map.delete(key);
        reject(e);
      }, what);
      map.set(key, { resolve, reject, timer });
    });
  }

  private finishHandshake(outcome: { error: Error } | { reply: Payload | undefined }): void {
    const state = this.handshake;
    this.handshake = undefined;
    if (!state) return;
    clearTimeout(state.done.timer);
    if ('error' in outcome) state.done.reject(outcome.error);
    else state.done.resolve(outcome.reply);
  }

  /** Forgets the session; in-flight requests fail with `why` (default: session_lost). */
  private dropSession(why: Error = new ChannelError('session_lost', 'master no longer knows this session')): void {
    this.session?.cipher.destroy();
    this.session = undefined;
    clearTimeout(this.rekeyTimer);
    this.rekeyDue = false;
    for (const [id, p] of this.waiting) {
      clearTimeout(p.timer);
      p.reject(why);
      this.waiting.delete(id);
    }
    this.finishHandshake({ error: why });
  }

  private async receive(socket: zmq.Dealer): Promise<void> {
    try {
      for await (const [raw] of socket) {
        if (!raw) continue;
        try {
          this.onFrame(decodeFrame(raw, this.limit));
        } catch (err) {
          this.opts.log.debug({ err: (err as Error).message }, 'dropped a frame from the master');
        }
      }
    } catch (err) {
      if (!this.closed && socket === this.socket) this.opts.log.error({ err }, 'master socket failed');
    }
  }

  private onFrame(frame: Frame): void {
    const state = this.handshake;
    switch (frame.type) {
      case FrameType.Welcome:
        if (state?.step === 'welcome' && state.hs.answers(frame)) this.onWelcome(state, frame);
        return;
      case FrameType.Msg:
        // During a re-key the old session still carries replies and jobs; anything else answers the AUTH.
        if (state?.step === 'auth' && !this.sessionFor(frame.sessionId)) this.onAuthResult(state, frame);
        else this.onReply(frame);
        return;
      case FrameType.Refuse:
        // Unauthenticated: acted on only by starting over, never by trusting its content.
        if (frame.code === RefuseCode.UnknownSession && this.session) this.dropSession();
        else if (state?.step === 'welcome' && state.hs.pinned && frame.code === RefuseCode.BadFrame) this.helloWithoutPin(state);
        else if (state && frame.code !== RefuseCode.UnknownSession)
          this.finishHandshake({ error: new ChannelError('auth_failed', `master refused the handshake: ${frame.reason}`) });
        return;
      default:
        throw new ProtocolError('bad_frame', 'unexpected frame type from master');
    }
  }

  /**
   * A master older than master key rotation refuses a 50-byte HELLO as a bad frame: this
   * channel names no pinned key from now on and sends a plain HELLO at once (a forged REFUSE
   * can make it do so too, which at worst keeps it from a rotation's statement: no more than
   * dropping its packets would).
   */
  private helloWithoutPin(state: Extract<HandshakeState, { step: 'welcome' }>): void {
    this.pinHello = false;
    this.opts.log.info({ master: this.master }, 'the master does not read a pinned key in HELLO (an older version); sending none');
    const hs = new ClientHandshake();
    state.hs = hs;
    this.sender.send(hs.helloFrame).catch((err: unknown) => {
      if (this.handshake?.step !== 'welcome' || this.handshake.hs !== hs) return;
      this.finishHandshake({ error: this.unreachable('handshake', err) });
    });
  }

  private onWelcome(
    state: Extract<HandshakeState, { step: 'welcome' }>,
    welcome: Extract<Frame, { type: typeof FrameType.Welcome }>,
  ): void {
    const hello: Request['args'] = { role: this.opts.role, grains: this.opts.grains };
    if (state.first) hello['then'] = state.first as unknown as Json;
    try {
      const { authFrame, cipher } = state.hs.complete(
        welcome,
        this.opts.identity,
        this.opts.trust,
        encodePayload({ t: 'req', id: 0, op: 'hello', args: hello }),
      );
      this.handshake = { step: 'auth', cipher, served: welcome.masterIdentity.slice(), first: state.first, done: state.done };
      this.sender.send(authFrame).catch((err: unknown) => this.finishHandshake({ error: this.unreachable('handshake', err) }));
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : 'auth_failed';
      this.finishHandshake({ error: new ChannelError(code, (err as Error).message) });
    }
  }

  private onAuthResult(state: Extract<HandshakeState, { step: 'auth' }>, frame: MsgFrame): void {
    const { cipher } = state;
    const { header, body } = decodePayload(cipher.open(frame.counter, frame.ciphertext));
    if (header.t !== 'auth') throw new ProtocolError('bad_payload', 'expected the auth result');
    const result = header as AuthResult;
    if (result.status !== 'accepted') {
      cipher.destroy();
      this.finishHandshake({ error: new ChannelError(authErrorCode(result), `master says: ${result.message}`) });
      return;
    }
    if (result.rotation !== undefined) this.adoptRotation(result.rotation, state.served);
    const replaced = this.session;
    this.session = { id: frame.sessionId.slice(), cipher };
    if (replaced) this.retire(replaced);
    this.armRekey();
    this.opts.log.info({ role: this.opts.role }, replaced ? 'session with master re-keyed' : 'session with master established');
    // The reply to a request that rode in the handshake; a master that ignored it answered hello only.
    const answered = state.first && result.res?.id === state.first.id;
    this.finishHandshake({ reply: answered ? { header: result.res!, body } : undefined });
    this.sessionHandler?.();
  }

  /** The master's old key vouched for a new one over this authenticated session: pin it (identity.ts, masterTrust). */
  private adoptRotation(statement: string, served: Uint8Array): void {
    try {
      this.opts.trust.rotated?.(new Uint8Array(Buffer.from(statement, 'base64')), served);
    } catch (err) {
      this.opts.log.error(
        { err: (err as Error).message },
        'the master sent a master key rotation statement that was not adopted; this minion keeps its pinned key',
      );
    }
  }

  private sessionFor(id: Uint8Array): OpenSession | undefined {
    return [this.session, this.retired?.session].find((s) => s && Buffer.from(id).equals(s.id));
  }

  private onReply(frame: MsgFrame): void {
    const session = this.sessionFor(frame.sessionId);
    if (!session) return;
    this.deliver(session.cipher.open(frame.counter, frame.ciphertext));
    if (session === this.session) this.countMessage();
    this.maybeRekey();
  }

  /** Hands a decrypted reply to its waiting request, or a pushed job to the job handler. */
  private deliver(plain: Uint8Array): void {
    const payload = decodePayload(plain);
    const headerBytes = plain.length - (payload.body?.length ?? 0);
    plain.subarray(0, headerBytes).fill(0);
    const { header } = payload;
    if (header.t === 'job') {
      this.jobHandler?.(header);
      return;
    }
    if (header.t !== 'res') throw new ProtocolError('bad_payload', 'expected a response or a job');
    const waiter = this.waiting.get(header.id);
    if (!waiter) {
      payload.body?.fill(0);
      return;
    }
    this.waiting.delete(header.id);
    clearTimeout(waiter.timer);
    waiter.resolve(payload);
  }

  /** Starts the clock of a new session toward its re-key. */
  private armRekey(): void {
    clearTimeout(this.rekeyTimer);
    this.rekeyDue = false;
    if (!this.opts.rekey) return;
    this.rekeyTimer = setTimeout(() => this.rekeyWhenIdle(), this.opts.rekey.afterMs);
    this.rekeyTimer.unref();
  }

  private rekeyWhenIdle(): void {
    this.rekeyDue = true;
    this.maybeRekey();
  }

  /** After each message of the current session: due for a re-key once it has carried `afterMessages`. */
  private countMessage(): void {
    const limit = this.opts.rekey?.afterMessages;
    if (limit !== undefined && this.session && this.session.cipher.messages >= limit) this.rekeyDue = true;
  }

  /**
   * Re-keys once due, with no request in flight: the master erases the old
   * session's keys when it sees the new one, so a reply it sealed after that could
   * not be read. Requests made meanwhile wait for the new session (see connect);
   * jobs the master pushed on the old one are still read (see retire). A minion
   * that is never idle is re-keyed by the master's own limits instead.
   */
  private maybeRekey(): void {
    if (!this.rekeyDue || !this.session || this.connecting || this.waiting.size > 0 || this.closed) return;
    this.rekeyDue = false;
    this.handshakeWith(undefined).catch((err: unknown) => {
      this.opts.log.warn(
        { code: (err as ChannelError).code, reason: (err as Error).message },
        're-keying failed; the current session stays for now',
      );
      if (!this.session || this.closed) return;
      this.rekeyTimer = setTimeout(() => this.rekeyWhenIdle(), this.opts.timeoutMs);
      this.rekeyTimer.unref();
    });
  }

  private retire(old: OpenSession): void {
    this.dropRetired();
    const timer = setTimeout(() => this.dropRetired(), this.opts.timeoutMs);
    timer.unref();
    this.retired = { session: old, timer };
  }

  private dropRetired(): void {
    if (!this.retired) return;
    clearTimeout(this.retired.timer);
    this.retired.session.cipher.destroy();
    this.retired = undefined;
  }
}
