import { chmodSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { BrineError, type Logger } from '@brine/common';
import { minionIdProblem } from '@brine/protocol';
import { assertSlsName, isMatchType } from '@brine/states';
import type { Dispatcher } from '../jobs/dispatcher.js';
import { isJid } from '../jobs/jid.js';
import type { JobCache, MinionReturn } from '../jobs/job-cache.js';
import type { MinionRegistry } from '../minion-registry.js';
import type { StatusReporter } from '../minion-status.js';
import { shareWithGroup, type OperatorGroup } from '../operator-group.js';
import { operatorProblem, type Operator } from '../operator.js';
import type { AuditLog } from '../audit.js';
import type { ControlEvent, ControlRequest, WireRequest } from './protocol.js';

const MAX_REQUEST_BYTES = 64 * 1024;
const KEY_EVENTS: ReadonlySet<string> = new Set(['key_accepted', 'key_rejected', 'key_deleted']);

class BadRequest extends BrineError {}

function parseRequest(line: string): WireRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new BadRequest('bad_request', 'request is not JSON');
  }
  const r = raw as Record<string, unknown>;
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new BadRequest('bad_request', what);
  };
  need(typeof r === 'object' && r !== null, 'request must be an object');
  const who = operatorProblem(r['operator']);
  if (who) throw new BadRequest('bad_request', who);
  const targeted = () => {
    need(typeof r['target'] === 'string' && r['target'] !== '', "'target' must be a non-empty string");
    need(isMatchType(r['tgt_type']), "'tgt_type' must be a match type");
  };
  const timed = () => need(typeof r['timeout'] === 'number' && r['timeout'] > 0 && r['timeout'] <= 86_400, "'timeout' must be 1..86400 seconds");
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
    case 'audit.key': {
      const rec = r['record'] as Record<string, unknown> | undefined;
      need(typeof rec === 'object' && rec !== null, "'record' must be an object");
      need(KEY_EVENTS.has(rec!['event'] as string), "'record.event' must be key_accepted, key_rejected or key_deleted");
      need(typeof rec!['minion'] === 'string' && minionIdProblem(rec!['minion'] as string) === undefined, "'record.minion' must be a minion id");
      need(rec!['fingerprint'] === undefined || (typeof rec!['fingerprint'] === 'string' && (rec!['fingerprint'] as string).length <= 64), "'record.fingerprint' must be a fingerprint");
      need(typeof rec!['reason'] === 'string' && (rec!['reason'] as string).length <= 200, "'record.reason' must be a short string");
      need(Object.keys(rec!).every((k) => ['event', 'minion', 'fingerprint', 'reason'].includes(k)), "'record' has unknown fields");
      break;
    }
    default:
      throw new BadRequest('bad_request', `unknown command ${JSON.stringify(r['cmd'])}`);
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
    private readonly cache: JobCache,
    private readonly status: StatusReporter,
    private readonly audit: Pick<AuditLog, 'write'>,
    private readonly log: Logger,
    private readonly group?: OperatorGroup,
  ) {
    this.server = createServer((socket) => this.serve(socket));
  }

  async start(): Promise<void> {
    socketDir(dirname(this.path), this.group);
    const stale = lstatSync(this.path, { throwIfNoEntry: false });
    if (stale) {
      if (!stale.isSocket()) throw new BrineError('sock_dir_unsafe', `${this.path} exists and is not a socket; remove it or choose another sock_dir`);
      if (await isListening(this.path)) throw new BrineError('master_running', `another master is listening on ${this.path}`);
      rmSync(this.path);
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.path, () => resolve());
    });
    if (this.group) shareWithGroup(this.path, 0o660, this.group);
    else chmodSync(this.path, 0o600);
  }

  close(): void {
    this.server.close();
    rmSync(this.path, { force: true });
  }

  private serve(socket: Socket): void {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      if (buffered === undefined) return;
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0 && buffered.length <= MAX_REQUEST_BYTES) return;
      const line = nl < 0 ? buffered : buffered.slice(0, nl);
      buffered = undefined as unknown as string;
      const send = (event: ControlEvent) => {
        if (!socket.destroyed) socket.write(`${JSON.stringify(event)}\n`);
      };
      try {
        if (nl < 0) throw new BadRequest('bad_request', 'request too large');
        this.run(parseRequest(line), send, socket);
      } catch (err) {
        const e = err instanceof BrineError ? err : new BrineError('internal', (err as Error).message);
        if (!(err instanceof BrineError)) this.log.error({ err }, 'control command failed');
        send({ type: 'error', code: e.code, message: e.message });
        socket.end();
      }
    });
  }

  private run(req: WireRequest, send: (e: ControlEvent) => void, socket: Socket): void {
    switch (req.cmd) {
      case 'ping':
        return this.job({ fun: 'test.ping', args: {}, target: req.target, tgt_type: req.tgt_type }, req.operator, req.timeout, send, socket);
      case 'apply':
        return this.job({ fun: 'state.apply', args: { mods: req.sls, test: req.test }, target: req.target, tgt_type: req.tgt_type }, req.operator, req.timeout, send, socket);
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
        if (req.target !== undefined && ids.length === 0) throw new BrineError('no_minions', `no accepted minion matches ${req.tgt_type} target ${JSON.stringify(req.target)}`);
        send({ type: 'status', minions: this.status.report(ids) });
        socket.end();
        return;
      }
      case 'audit.key':
        this.audit.write({ ...req.record, ...req.operator, via: 'control_socket' });
        send({ type: 'recorded' });
        socket.end();
        return;
      case 'jobs.show': {
        const job = this.cache.job(req.jid);
        if (!job) throw new BrineError('unknown_job', `no job ${req.jid} in the job cache`);
        send({ type: 'job', job, returns: this.cache.returns(req.jid) });
        socket.end();
      }
    }
  }

  /** Publishes a job and streams returns until every reachable minion answered or the timeout passed. */
  private job(publish: Parameters<Dispatcher['publish']>[0], operator: Operator, timeoutSec: number, send: (e: ControlEvent) => void, socket: Socket): void {
    const waiting = new Set<string>();
    let timer: NodeJS.Timeout | undefined;
    const listener = (ret: MinionReturn) => {
      if (!waiting.delete(ret.minion)) return;
      send({ type: 'return', ret });
      if (waiting.size === 0) finish();
    };
    const published = this.dispatcher.publish(publish, operator, listener);
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

/**
 * The directory that keeps the socket to the master's user (and `sock_group`).
 * Created when missing (0700, or 0750 of the group); an existing one is never
 * chmodded (it may be shared: /tmp, /run): it must be a real directory of the
 * master's user that no one else can write or enter, save the group if there is one.
 */
function socketDir(dir: string, group: OperatorGroup | undefined): void {
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined;
  if (created && group) shareWithGroup(dir, 0o750, group);
  const st = lstatSync(dir);
  const fix = `point sock_dir at a directory of its own (the master creates it ${group ? `0750, group ${group.name},` : '0700'} when missing)`;
  if (!st.isDirectory()) throw new BrineError('sock_dir_unsafe', `sock_dir ${dir} is not a directory (a symbolic link?); ${fix}`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new BrineError('sock_dir_unsafe', `sock_dir ${dir} belongs to uid ${st.uid}, not to the master's user (uid ${uid}); ${fix}`);
  const mode = st.mode & 0o7777;
  if (!group) {
    if ((mode & 0o077) !== 0) {
      throw new BrineError('sock_dir_unsafe', `sock_dir ${dir} is mode ${mode.toString(8)}: other users could reach the control socket; chmod 700 ${dir}, or ${fix}`);
    }
    return;
  }
  if ((mode & 0o027) !== 0 || (mode & 0o050) !== 0o050 || st.gid !== group.gid) {
    // Group write would let members replace the socket; another group could enter; without r-x the group cannot reach it.
    throw new BrineError(
      'sock_dir_unsafe',
      `sock_dir ${dir} is mode ${mode.toString(8)}, gid ${st.gid}: it must be mode 750 and group ${group.name} (sock_group, gid ${group.gid}); chgrp ${group.name} ${dir} && chmod 750 ${dir}, or ${fix}`,
    );
  }
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
