import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import {
  BadRequest,
  BrineError,
  listenLocal,
  operatorProblem,
  parseRequestObject,
  serveRequest,
  type Logger,
  type Operator,
} from '@brine/common';
import { minionIdProblem } from '@brine/protocol';
import { assertSlsName, isMatchType, networkProblem } from '@brine/states';
import type { Dispatcher } from '../jobs/dispatcher.js';
import { isJid } from '../jobs/jid.js';
import type { JobStore, MinionReturn } from '../jobs/job-store.js';
import type { MinionRegistry } from '../minion-registry.js';
import type { StatusReporter } from '../minion-status.js';
import { shareWithGroup, type OperatorGroup } from '../operator-group.js';
import type { AuditLog } from '../audit.js';
import { applyKeyAction, type KeyAction } from '../key-actions.js';
import { keyListing, type KeyStore } from '../keystore.js';
import type { ControlEvent, WireRequest } from './protocol.js';

const MAX_REQUEST_BYTES = 64 * 1024;
const KEY_EVENTS: ReadonlySet<string> = new Set(['key_accepted', 'key_rejected', 'key_deleted']);

function parseRequest(line: string): WireRequest {
  const r = parseRequestObject(line);
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new BadRequest(what);
  };
  const who = operatorProblem(r['operator']);
  if (who) throw new BadRequest(who);
  const targeted = () => {
    need(typeof r['target'] === 'string' && r['target'] !== '', "'target' must be a non-empty string");
    need(isMatchType(r['tgt_type']), "'tgt_type' must be a match type");
  };
  const timed = () =>
    need(typeof r['timeout'] === 'number' && r['timeout'] > 0 && r['timeout'] <= 86_400, "'timeout' must be 1..86400 seconds");
  switch (r['cmd']) {
    case 'ping':
      targeted();
      timed();
      break;
    case 'apply':
      targeted();
      timed();
      need(Array.isArray(r['sls']) && (r['sls'] as unknown[]).every((s) => typeof s === 'string'), "'sls' must be a list of SLS names");
      for (const sls of r['sls'] as string[]) assertSlsName(sls);
      need(typeof r['test'] === 'boolean', "'test' must be true or false");
      break;
    case 'grains':
      targeted();
      break;
    case 'jobs.list':
      break;
    case 'status':
      if (r['target'] !== undefined || r['tgt_type'] !== undefined) targeted();
      break;
    case 'jobs.show':
      need(typeof r['jid'] === 'string' && isJid(r['jid'] as string), "'jid' must be a 20-digit job id");
      break;
    case 'keys.list':
      break;
    case 'keys.change': {
      const a = r['action'] as Record<string, unknown> | undefined;
      need(typeof a === 'object' && a !== null, "'action' must be an object");
      need(['accept', 'reject', 'delete'].includes(a!['verb'] as string), "'action.verb' must be accept, reject or delete");
      need(
        Array.isArray(a!['patterns']) && (a!['patterns'] as unknown[]).every((p) => typeof p === 'string' && p !== '' && p.length <= 255),
        "'action.patterns' must be a list of ids or globs",
      );
      need(
        typeof a!['all'] === 'boolean' && typeof a!['includeRejected'] === 'boolean',
        "'action.all' and 'action.includeRejected' must be true or false",
      );
      need(
        a!['networks'] === undefined ||
          (Array.isArray(a!['networks']) &&
            (a!['networks'] as unknown[]).every((n) => typeof n === 'string' && networkProblem(n) === undefined)),
        "'action.networks' must be a list of IPv4 or IPv6 networks",
      );
      break;
    }
    case 'audit.key': {
      const rec = r['record'] as Record<string, unknown> | undefined;
      need(typeof rec === 'object' && rec !== null, "'record' must be an object");
      need(KEY_EVENTS.has(rec!['event'] as string), "'record.event' must be key_accepted, key_rejected or key_deleted");
      need(
        typeof rec!['minion'] === 'string' && minionIdProblem(rec!['minion'] as string) === undefined,
        "'record.minion' must be a minion id",
      );
      need(
        rec!['fingerprint'] === undefined || (typeof rec!['fingerprint'] === 'string' && (rec!['fingerprint'] as string).length <= 64),
        "'record.fingerprint' must be a fingerprint",
      );
      need(typeof rec!['reason'] === 'string' && (rec!['reason'] as string).length <= 200, "'record.reason' must be a short string");
      need(
        Object.keys(rec!).every((k) => ['event', 'minion', 'fingerprint', 'reason'].includes(k)),
        "'record' has unknown fields",
      );
      break;
    }
    default:
      throw new BadRequest(`unknown command ${JSON.stringify(r['cmd'])}`);
  }
  return r as unknown as WireRequest;
}

/**
 * The master's local control socket: a Unix socket in a 0700 directory, itself
 * 0600, so only the master's user can give commands; with `sock_group`, 0660 in a
 * 0750 directory of that group, so its members can too. It is never exposed on
 * the network, and minions have no way to reach it.
 *
 * Who published a job is audited as the client states it (`operator`): Node has no
 * API for SO_PEERCRED, and guessing the peer from /proc is racy. The kernel bounds
 * the claim to who can connect: the master's user and root (who could write the
 * audit log directly anyway) and members of `sock_group`, who could name one another.
 */
export class ControlServer {
  private readonly server: Server;

  constructor(
    private readonly path: string,
    private readonly dispatcher: Dispatcher,
    private readonly registry: MinionRegistry,
    private readonly cache: JobStore,
    private readonly status: StatusReporter,
    private readonly keys: KeyStore,
    private readonly audit: Pick<AuditLog, 'write'>,
    private readonly log: Logger,
    private readonly group?: OperatorGroup,
  ) {
    this.server = createServer((socket) => this.serve(socket));
  }

  async start(): Promise<void> {
    const group = this.group && { ...this.group, share: (path: string, mode: number) => shareWithGroup(path, mode, this.group!) };
    await listenLocal(this.server, this.path, 'master', group);
  }

  close(): void {
    this.server.close();
    rmSync(this.path, { force: true });
  }

  private serve(socket: Socket): void {
    serveRequest<ControlEvent>(socket, MAX_REQUEST_BYTES, this.log, (line, send) => this.run(parseRequest(line), send, socket));
  }

  private run(req: WireRequest, send: (e: ControlEvent) => void, socket: Socket): void | Promise<void> {
    switch (req.cmd) {
      case 'ping':
        return this.job(
          { fun: 'test.ping', args: {}, target: req.target, tgt_type: req.tgt_type },
          req.operator,
          req.timeout,
          send,
          socket,
        );
      case 'apply':
        return this.job(
          { fun: 'state.apply', args: { mods: req.sls, test: req.test }, target: req.target, tgt_type: req.tgt_type },
          req.operator,
          req.timeout,
          send,
          socket,
        );
      case 'grains': {
        const ids = this.registry.match(req.target, req.tgt_type);
        send({ type: 'grains', grains: Object.fromEntries(ids.map((id) => [id, this.registry.grains(id) ?? null])) });
        socket.end();
        return;
      }
      case 'jobs.list':
        send({ type: 'jobs', jobs: this.cache.list() });
        socket.end();
        return;
      case 'status': {
        const ids = req.target === undefined ? this.registry.accepted() : this.registry.match(req.target, req.tgt_type!);
        if (req.target !== undefined && ids.length === 0)
          throw new BrineError('no_minions', `no accepted minion matches ${req.tgt_type} target ${JSON.stringify(req.target)}`);
        send({ type: 'status', minions: this.status.report(ids), master: this.status.master() });
        socket.end();
        return;
      }
      case 'audit.key':
        this.audit.write({ ...req.record, ...req.operator, via: 'control_socket' });
        send({ type: 'recorded' });
        socket.end();
        return;
      case 'keys.list': {
        const stale = this.keys.staleness();
        send({ type: 'keys', keys: keyListing(this.keys), ...(stale && { stale }) });
        socket.end();
        return;
      }
      case 'keys.change':
        return this.changeKeys(req.action, req.operator, send, socket);
      case 'jobs.show': {
        const job = this.cache.job(req.jid);
        if (!job) throw new BrineError('unknown_job', `no job ${req.jid} in the job cache`);
        send({ type: 'job', job, returns: this.cache.returns(req.jid) });
        socket.end();
      }
    }
  }

  /** Applies a key action to the key store, streaming each change; a failure part way comes after the changes made. */
  private async changeKeys(action: KeyAction, operator: Operator, send: (e: ControlEvent) => void, socket: Socket): Promise<void> {
    for await (const change of applyKeyAction(this.keys, action, (r) => this.audit.write({ ...r, ...operator, via: 'control_socket' })))
      send({ type: 'key_changed', change });
    send({ type: 'keys_changed' });
    socket.end();
  }

  /** Publishes a job and streams returns until every reachable minion answered or the timeout passed. */
  private async job(
    publish: Parameters<Dispatcher['publish']>[0],
    operator: Operator,
    timeoutSec: number,
    send: (e: ControlEvent) => void,
    socket: Socket,
  ): Promise<void> {
    const waiting = new Set<string>();
    let timer: NodeJS.Timeout | undefined;
    const listener = (ret: MinionReturn) => {
      if (!waiting.delete(ret.minion)) return;
      send({ type: 'return', ret });
      if (waiting.size === 0) finish();
    };
    const published = await this.dispatcher.publish(publish, operator, listener);
    const finish = () => {
      clearTimeout(timer);
      this.dispatcher.unwatch(published.jid, listener);
      send({ type: 'done', jid: published.jid, missing: [...waiting].sort(), not_connected: published.notConnected });
      socket.end();
    };
    for (const id of published.minions) if (!published.notConnected.includes(id)) waiting.add(id);
    send({ type: 'published', jid: published.jid, minions: published.minions, not_connected: published.notConnected });
    if (waiting.size === 0) return finish();
    timer = setTimeout(finish, timeoutSec * 1000);
    socket.once('close', () => {
      clearTimeout(timer);
      this.dispatcher.unwatch(published.jid, listener);
    });
  }
}
