import { BrineError, type Logger } from '@brine/common';
import {
  asRequest,
  decodeFrame,
  decodePayload,
  encodeRefuse,
  fingerprint,
  FrameType,
  minionIdProblem,
  ProtocolError,
  randomBytes,
  RefuseCode,
  SESSION_ID_BYTES,
  type AuthFrame,
  type AuthStatus,
  type Responder,
  type Header,
  type MsgFrame,
  type OpenedAuth,
  type Request,
  type Response,
  type SessionCipher,
} from '@brine/protocol';
import type { AuditEvent, AuditLog } from './audit.js';
import type { KeyStore } from './keystore.js';
import type { MinionNetworks, NetworkRefusal } from './minion-networks.js';
import type { NewKeyLimits } from './new-key-limits.js';
import type { OpResult, Operations } from './operations.js';
import type { Presence } from './presence.js';
import type { Session, SessionTable } from './sessions.js';
import type { StaticKeys } from './static-keys.js';
import type { Outbox } from './outbox.js';
import type { MasterTransport } from './transport.js';

interface Answer {
  res: Response;
  body: Uint8Array | undefined;
}

export interface ServerDeps {
  transport: MasterTransport;
  /** One identity's, or both of a master key rotation's (master-keys.ts). */
  responder: Responder;
  keys: KeyStore;
  /** minion_networks and the keys' own networks: where each minion may be served from. */
  networks: MinionNetworks;
  newKeys: NewKeyLimits;
  statics: StaticKeys;
  sessions: SessionTable;
  presence: Presence;
  operations: Operations;
  audit: AuditLog;
  outbox: Outbox;
  log: Logger;
  autoAccept: boolean;
  maxMessageBytes: number;
}

const NO_SESSION = Buffer.alloc(SESSION_ID_BYTES);
const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

interface Who {
  minion: string;
  fingerprint: string;
  peer: string | undefined;
}

const REFUSAL_EVENT: Record<string, AuditEvent> = {
  bad_frame: 'refused_bad_frame',
  cookie_invalid: 'refused_cookie',
  replay: 'refused_replay',
  tampered: 'refused_tampered',
  bad_payload: 'refused_bad_request',
  bad_key: 'refused_bad_key',
};

const REFUSED_STATUS_EVENT: Record<Exclude<AuthStatus, 'accepted'>, AuditEvent> = {
  pending: 'refused_pending',
  rejected: 'refused_rejected',
  denied: 'refused_denied',
  refused: 'refused_key_limit',
};

/** Internal errors logged per window at most; a fault a peer can trigger must not flood the log. */
const INTERNAL_ERROR_BURST = 5;
const INTERNAL_ERROR_WINDOW_MS = 60_000;

const STATUS_MESSAGE: Record<Exclude<AuthStatus, 'accepted' | 'refused'>, string> = {
  pending: 'key is pending; an operator must accept it on the master (master keys accept <id>)',
  rejected: 'key has been rejected on the master',
  denied: 'a different key is already registered for this id; the presented key was denied',
};

/**
 * Turns frames from minions into answers. Nothing here throws out to the receive
 * loop: every malformed, forged, replayed or unauthorised frame is dropped,
 * audited, and at most answered with an unauthenticated REFUSE hint.
 */
export class MasterServer {
  private internalErrors = { windowEnds: 0, count: 0 };

  constructor(private readonly d: ServerDeps) {}

  handle(frames: Buffer[]): void {
    const [routingId, ...body] = frames;
    if (!routingId) return;
    const peer = this.d.transport.peerOf(routingId);
    if (peer === undefined) {
      // Not a connection whose address ZAP bound to it (see PeerBook): its frames could claim any address.
      this.d.audit.refuse({
        event: 'refused_unbound_peer',
        reason: 'routing id differs from the PLAIN user name, or the connection is gone',
      });
      return;
    }
    try {
      if (body.length !== 1) throw new ProtocolError('bad_frame', `expected one frame, got ${body.length}`);
      const raw = body[0]!;
      if (raw.length > this.d.maxMessageBytes) {
        this.d.audit.refuse({ event: 'refused_too_large', peer, reason: `${raw.length} bytes` });
        this.refuse(routingId, RefuseCode.TooLarge, `frame exceeds ${this.d.maxMessageBytes} bytes`);
        return;
      }
      const frame = decodeFrame(raw, this.d.maxMessageBytes);
      switch (frame.type) {
        case FrameType.Hello:
          this.d.transport.sendBestEffort(routingId, this.d.responder.welcome(frame));
          return;
        case FrameType.Auth:
          this.auth(routingId, peer, frame);
          return;
        case FrameType.Msg:
          this.message(routingId, peer, frame);
          return;
        default:
          throw new ProtocolError('bad_frame', 'frame type not accepted by a master');
      }
    } catch (err) {
      this.reject(routingId, peer, err);
    }
  }

  /** Audits a refused frame and, where a hint helps an honest minion, answers with REFUSE. */
  private reject(routingId: Buffer, peer: string | undefined, err: unknown, minion?: Session): void {
    if (!(err instanceof ProtocolError)) {
      // A bug, not the peer's fault as far as we know; still a refusal for the peer, and the log stays bounded.
      this.d.audit.refuse({ event: 'refused_internal', peer, minion: minion?.minionId });
      this.logInternal(err, peer);
      return;
    }
    const event = REFUSAL_EVENT[err.code] ?? 'refused_bad_frame';
    this.d.audit.refuse({ event, peer, reason: err.message, minion: minion?.minionId, fingerprint: minion?.fingerprint });
    if (err.code === 'bad_frame') this.refuse(routingId, RefuseCode.BadFrame, err.message);
    else if (err.code === 'cookie_invalid') this.refuse(routingId, RefuseCode.CookieInvalid, 'handshake expired; start again');
    else if ((err.code === 'tampered' || err.code === 'bad_key' || err.code === 'bad_payload') && !minion)
      this.refuse(routingId, RefuseCode.AuthFailed, 'authentication failed');
    // Replays and tampering inside a session get no answer: the real minion is not waiting for one.
  }

  private logInternal(err: unknown, peer: string | undefined): void {
    const now = Date.now();
    if (now >= this.internalErrors.windowEnds) {
      if (this.internalErrors.count > INTERNAL_ERROR_BURST) {
        this.d.log.error(
          { suppressed: this.internalErrors.count - INTERNAL_ERROR_BURST },
          'more internal errors while handling frames were not logged',
        );
      }
      this.internalErrors = { windowEnds: now + INTERNAL_ERROR_WINDOW_MS, count: 0 };
    }
    if (++this.internalErrors.count <= INTERNAL_ERROR_BURST) {
      this.d.log.error(
        { err: err instanceof Error ? `${err.name}: ${err.message}` : String(err), peer },
        'internal error while handling a frame',
      );
    }
  }

  private refuse(routingId: Buffer, code: RefuseCode, reason: string): void {
    this.d.transport.sendBestEffort(routingId, encodeRefuse({ code, reason }));
  }

  private auth(routingId: Buffer, peer: string | undefined, frame: AuthFrame): void {
    const opened = this.d.responder.openAuth(frame);
    if (!(opened instanceof Promise)) {
      this.opened(routingId, peer, opened);
      return;
    }
    // Its X25519 work is on a handshake worker: the rest runs here when it is done, refused as if inline.
    opened.then(
      (o) => {
        try {
          this.opened(routingId, peer, o);
        } catch (err) {
          this.reject(routingId, peer, err);
        }
      },
      (err: unknown) => this.reject(routingId, peer, err),
    );
  }

  private opened(routingId: Buffer, peer: string | undefined, opened: OpenedAuth): void {
    const idProblem = minionIdProblem(opened.id);
    if (idProblem) {
      opened.discard();
      throw new ProtocolError('bad_payload', `invalid minion id: ${idProblem}`);
    }
    let statics: ReturnType<StaticKeys['lookup']>;
    try {
      statics = this.d.statics.lookup(opened.minionPublic);
    } catch (err) {
      opened.discard();
      throw err;
    }
    const { shared, remember, release } = statics;
    // The shared key is zeroed (unless cached) on every path: here, or when the key store has answered.
    let waiting = false;
    try {
      // Possession of the key is proven here, before the key store records anything about it.
      const { cipher, payload } = opened.accept(shared);
      let handedOver = false;
      try {
        const fp = fingerprint(opened.minionPublic);
        const who = { minion: opened.id, fingerprint: fp, peer };
        const stale = this.d.keys.staleness();
        if (stale) {
          this.d.audit.refuse({ event: 'refused_cluster_stale', ...who, reason: stale });
          this.reply(routingId, NO_SESSION, cipher, { t: 'auth', status: 'refused', message: `cluster_stale: ${stale}` });
          cipher.destroy();
          return;
        }
        // Before the key store: a restricted id from elsewhere records nothing, not even a pending key.
        const outside = this.d.networks.refusal(opened.id, peer);
        if (outside) {
          this.reply(routingId, NO_SESSION, cipher, { t: 'auth', status: 'refused', message: this.networkRefused(who, outside) });
          cipher.destroy();
          return;
        }
        // The hot path (a known key) stays synchronous; only a key to record waits for the store.
        if (this.d.keys.isAccepted(opened.id, opened.minionPublic)) {
          handedOver = true;
          this.admitted(routingId, who, cipher, payload, { minionPublic: opened.minionPublic, remember, rotation: opened.rotation });
          return;
        }
        // Destroyed at the end unless a session took it, whatever throws on the way (audit, announce, reply).
        let kept = false;
        this.d.keys
          .admit(opened.id, opened.minionPublic, this.d.autoAccept, (state) => this.d.newKeys.check(peer, state))
          .then(
            ({ status, recorded, reason }) => {
              if (recorded) {
                if (status !== 'rejected' && status !== 'refused') this.d.newKeys.recorded(peer, opened.id, status);
                this.announce(status, who);
              }
              if (status === 'accepted') {
                kept = true;
                return this.admitted(routingId, who, cipher, payload, {
                  minionPublic: opened.minionPublic,
                  remember,
                  rotation: opened.rotation,
                });
              }
              this.d.audit.refuse({ event: REFUSED_STATUS_EVENT[status], ...who, ...(reason && { reason }) });
              const message = status === 'refused' ? `key not recorded: ${reason}` : STATUS_MESSAGE[status];
              this.reply(routingId, NO_SESSION, cipher, { t: 'auth', status, message });
            },
            (err: unknown) => {
              // The store could not record the key (a cluster's etcd out of reach, or a change on another master meanwhile).
              const reason = err instanceof BrineError ? err.message : String(err);
              this.d.audit.refuse({ event: 'refused_key_unrecorded', ...who, reason });
              this.d.log.warn({ ...who, reason }, 'could not record a minion key; the minion will retry');
              this.reply(routingId, NO_SESSION, cipher, {
                t: 'auth',
                status: 'refused',
                message: 'key not recorded: the master cannot record keys right now; retry later',
              });
            },
          )
          .catch((err: unknown) => this.reject(routingId, peer, err))
          .finally(() => {
            if (!kept) cipher.destroy();
            release();
          });
        handedOver = waiting = true;
      } catch (err) {
        // Not handed to a session: its keys go with the refusal.
        if (!handedOver) cipher.destroy();
        throw err;
      }
    } finally {
      if (!waiting) release();
    }
  }

  /** Opens the session of an accepted key and answers its hello (and the request riding with it). */
  private admitted(
    routingId: Buffer,
    who: Who,
    cipher: SessionCipher,
    payload: Uint8Array,
    key: { minionPublic: Uint8Array; remember: () => void; rotation?: Uint8Array | undefined },
  ): void {
    key.remember();
    const session: Session = {
      id: asBuffer(randomBytes(SESSION_ID_BYTES)),
      minionId: who.minion,
      minionPublic: key.minionPublic,
      fingerprint: who.fingerprint,
      cipher,
      routingId,
      role: 'cli',
      grains: {},
      lastSeen: Date.now(),
      openedAt: Date.now(),
      peer: who.peer,
    };
    this.d.sessions.add(session);
    this.d.presence.saw(who.minion, who.peer, session.openedAt);
    this.d.audit.write({ event: 'session_opened', ...who });
    // hello may carry the session's first real request (`then`): answered here, it saves a round trip.
    const hello = this.request(payload);
    const then = asRequest(hello.args['then']);
    const greeted = this.answer(hello, session, who.peer);
    if (session.role === 'daemon' && this.d.sessions.supersede(session) > 0)
      this.d.log.debug(who, 'new daemon session replaces the older one');
    // A session opened with the key a rotation retires carries the old key's statement for the new one.
    const rotation = key.rotation && Buffer.from(key.rotation).toString('base64');
    const welcome = ({ res, body }: Answer) =>
      this.reply(
        routingId,
        session.id,
        cipher,
        { t: 'auth', status: 'accepted', message: 'welcome', res, ...(rotation && { rotation }) },
        body,
      );
    this.whenAnswered(greeted, (a) =>
      a.res.ok && then && then.op !== 'hello' ? this.whenAnswered(this.answer(then, session, who.peer), welcome) : welcome(a),
    );
  }

  /**
   * The key store learnt that `id`'s key is no longer accepted (changed on another
   * master or by another process): its sessions close now, not at their next
   * request, and the minion's next request is told to handshake, which is refused.
   */
  revoked(id: string): void {
    const closing = this.d.sessions.ofMinion(id).filter((s) => !s.rotatingKey && !this.d.keys.isAccepted(id, s.minionPublic));
    for (const session of closing) {
      this.d.audit.write({ event: 'session_revoked', minion: id, fingerprint: session.fingerprint });
      this.d.statics.forget(session.minionPublic);
      this.d.sessions.close(session);
    }
    if (closing.length > 0)
      this.d.log.info({ minion: id, sessions: closing.length }, 'closed the sessions of a minion whose key was revoked');
  }

  /**
   * Audits a minion served from outside its networks (rate-limited, like every
   * refusal) and says what to tell it: not which networks are allowed, which
   * whoever holds a stolen key would like to know.
   */
  private networkRefused(who: Who, r: NetworkRefusal): string {
    const by = r.by === 'key' ? "the key's own networks" : `minion_networks '${r.by}'`;
    this.d.audit.refuse({
      event: 'refused_network',
      ...who,
      reason: `${r.peer} is outside ${r.networks.join(', ') || 'any network'} (${by})`,
    });
    return `network_refused: this minion is not served from ${r.peer}; see minion_networks on the master`;
  }

  /** Logs a key the master has just recorded: once, not on every retry of the minion. */
  private announce(status: AuthStatus, who: Who): void {
    if (status === 'pending') {
      this.d.audit.write({ event: 'key_pending', ...who });
      this.d.log.info(who, `new minion key pending; accept with: master keys accept ${who.minion}`);
    } else if (status === 'accepted') {
      this.d.audit.write({ event: 'key_auto_accepted', ...who });
      this.d.log.info(who, 'new minion key accepted automatically (auto_accept)');
    } else if (status === 'denied') {
      this.d.log.warn(who, 'minion presented a key different from its registered one; denied and kept in minions_denied');
    }
  }

  private message(routingId: Buffer, peer: string | undefined, frame: MsgFrame): void {
    const session = this.d.sessions.get(frame.sessionId);
    if (!session) {
      this.d.audit.refuse({ event: 'refused_unknown_session', peer });
      this.refuse(routingId, RefuseCode.UnknownSession, 'unknown session; handshake again');
      return;
    }
    let plain: Uint8Array;
    try {
      plain = session.cipher.open(frame.counter, frame.ciphertext);
    } catch (err) {
      this.reject(routingId, peer, err, session);
      return;
    }
    if (peer !== session.peer) {
      // The session moved to another connection (the minion reconnected): it must still come from its networks,
      // and jobs are pushed to the new connection only once it does.
      const outside = this.d.networks.refusal(session.minionId, peer);
      if (outside) {
        const message = this.networkRefused({ minion: session.minionId, fingerprint: session.fingerprint, peer }, outside);
        const error = { code: 'network_refused', message };
        this.reply(routingId, session.id, session.cipher, { t: 'res', id: this.request(plain).id, ok: false, error });
        return;
      }
      session.peer = peer;
    }
    session.routingId = routingId;
    session.lastSeen = Date.now();
    const stale = this.d.keys.staleness();
    if (stale) {
      // The session stays: once this master knows its keys again, it serves it (or closes it, revoked).
      this.d.audit.refuse({
        event: 'refused_cluster_stale',
        minion: session.minionId,
        fingerprint: session.fingerprint,
        peer,
        reason: stale,
      });
      this.reply(routingId, session.id, session.cipher, {
        t: 'res',
        id: this.request(plain).id,
        ok: false,
        error: { code: 'cluster_stale', message: stale },
      });
      return;
    }
    if (!this.d.keys.isAccepted(session.minionId, session.minionPublic)) {
      this.d.audit.refuse({ event: 'refused_revoked', minion: session.minionId, fingerprint: session.fingerprint, peer });
      this.d.log.info({ minion: session.minionId }, 'closing session of a minion whose key is no longer accepted');
      const id = this.request(plain).id;
      this.reply(routingId, session.id, session.cipher, {
        t: 'res',
        id,
        ok: false,
        error: { code: 'revoked', message: 'minion key is no longer accepted' },
      });
      this.d.statics.forget(session.minionPublic);
      this.d.sessions.close(session);
      return;
    }
    this.d.presence.saw(session.minionId, peer, session.lastSeen);
    this.whenAnswered(this.answer(this.request(plain), session, peer), ({ res, body }) =>
      this.reply(routingId, session.id, session.cipher, res, body),
    );
  }

  private request(plain: Uint8Array): Request {
    const { header } = decodePayload(plain);
    plain.fill(0);
    if (header.t !== 'req') throw new ProtocolError('bad_payload', `expected a request, got '${header.t}'`);
    return header;
  }

  /** The response to a request; a promise when the operation answers later (see OpResult). */
  private answer(req: Request, session: Session, peer: string | undefined): Answer | Promise<Answer> {
    const respond = (out: OpResult): Answer => {
      if (out.error) return { res: { t: 'res', id: req.id, ok: false, error: out.error }, body: undefined };
      if (out.raw) return { res: { t: 'res', id: req.id, ok: true, raw: true }, body: out.raw };
      return { res: { t: 'res', id: req.id, ok: true, value: out.value ?? null }, body: undefined };
    };
    const out = this.d.operations.run(req, { session, peer });
    return out.later !== undefined ? out.later.then(respond) : respond(out);
  }

  private whenAnswered(answer: Answer | Promise<Answer>, send: (a: Answer) => void): void {
    if (!(answer instanceof Promise)) {
      send(answer);
      return;
    }
    answer.then(send).catch((err: unknown) => this.d.log.error({ err: (err as Error).message }, 'could not send a deferred answer'));
  }

  private reply(routingId: Buffer, sessionId: Buffer, cipher: SessionCipher, header: Header, body?: Uint8Array): void {
    void this.d.outbox.send(routingId, sessionId, cipher, header, body);
  }
}
