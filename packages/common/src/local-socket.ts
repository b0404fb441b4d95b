import { chmodSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { createConnection, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { BrineError } from './errors.js';
import type { Logger } from './logger.js';
import { currentOperator } from './operator.js';

/*
 * The local control sockets of the master and the minion daemons: a Unix socket
 * in a private `sock_dir`, one newline-delimited JSON request per connection,
 * answered with JSON event lines after which the daemon closes the connection.
 */

/** Which daemon a socket belongs to: names its error codes (`master_down`, `minion_lost`, ...) and messages. */
export type DaemonName = 'master' | 'minion';

/** A group given the socket besides the daemon's user (the master's `sock_group`); `share` sets a path's group and mode. */
export interface SocketGroup {
  name: string;
  gid: number;
  share(path: string, mode: number): void;
}

/**
 * Listens on `path`: 0600 in a 0700 sock_dir, or 0660 in a 0750 sock_dir of
 * `group`, so the kernel lets only the daemon's user (and the group) connect. A
 * socket left by a daemon that died is replaced; a live one means another daemon
 * of the same kind already serves this sock_dir.
 */
export async function listenLocal(server: Server, path: string, daemon: DaemonName, group?: SocketGroup): Promise<void> {
  socketDir(dirname(path), daemon, group);
  const stale = lstatSync(path, { throwIfNoEntry: false });
  if (stale) {
    if (!stale.isSocket())
      throw new BrineError('sock_dir_unsafe', `${path} exists and is not a socket; remove it or choose another sock_dir`);
    if (await isListening(path)) throw new BrineError(`${daemon}_running`, `another ${daemon} is listening on ${path}`);
    rmSync(path);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  if (group) group.share(path, 0o660);
  else chmodSync(path, 0o600);
}

/**
 * The directory that keeps the socket to the daemon's user (and group). Created
 * when missing (0700, or 0750 of the group); an existing one is never chmodded
 * (it may be shared: /tmp, /run): it must be a real directory of the daemon's
 * user that no one else can write or enter, save the group if there is one.
 */
function socketDir(dir: string, daemon: DaemonName, group: SocketGroup | undefined): void {
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined;
  if (created && group) group.share(dir, 0o750);
  const st = lstatSync(dir);
  const fix = `point sock_dir at a directory of its own (the ${daemon} creates it ${group ? `0750, group ${group.name},` : '0700'} when missing)`;
  if (!st.isDirectory()) throw new BrineError('sock_dir_unsafe', `sock_dir ${dir} is not a directory (a symbolic link?); ${fix}`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw new BrineError('sock_dir_unsafe', `sock_dir ${dir} belongs to uid ${st.uid}, not to the ${daemon}'s user (uid ${uid}); ${fix}`);
  const mode = st.mode & 0o7777;
  if (!group) {
    if ((mode & 0o077) !== 0) {
      throw new BrineError(
        'sock_dir_unsafe',
        `sock_dir ${dir} is mode ${mode.toString(8)}: other users could reach the control socket; chmod 700 ${dir}, or ${fix}`,
      );
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

/** A request a daemon refuses as sent: malformed, too large, or too slow to arrive. */
export class BadRequest extends BrineError {
  constructor(message: string) {
    super('bad_request', message);
  }
}

/**
 * The one request line a client sends (anything after it is ignored: one request
 * per connection). Rejects with BadRequest when the line is longer than
 * `maxBytes` or has not arrived within `timeoutMs`, so a client can hold neither
 * memory nor a connection for long; and when the client leaves before sending it.
 */
function readRequestLine(socket: Socket, maxBytes: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => finish(new BadRequest(`no complete request line within ${timeoutMs / 1000} s`)), timeoutMs);
    const onData = (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl >= 0) finish(buffered.slice(0, nl));
      else if (Buffer.byteLength(buffered) > maxBytes) finish(new BadRequest(`request too large (over ${maxBytes} bytes)`));
    };
    const onEnd = () => finish(new BadRequest('the connection ended before a complete request line'));
    const finish = (outcome: string | BadRequest) => {
      clearTimeout(timer);
      socket.off('data', onData).off('end', onEnd);
      if (typeof outcome === 'string') resolve(outcome);
      else reject(outcome);
    };
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', onData).on('end', onEnd);
  });
}

/**
 * Serves one connection of a control socket: reads its request line and lets
 * `handle` answer with events; `handle` ends the connection once its answer is
 * complete. A failure ends it with an `error` event: a BrineError says what was
 * wrong, anything else is a bug and is logged as well.
 */
export function serveRequest<E extends { type: string }>(
  socket: Socket,
  maxBytes: number,
  log: Logger,
  handle: (line: string, send: (event: E) => void) => void | Promise<void>,
): void {
  const send = eventWriter<E | { type: 'error'; code: string; message: string }>(socket);
  readRequestLine(socket, maxBytes)
    .then((line) => handle(line, send))
    .catch((err: unknown) => {
      const e = err instanceof BrineError ? err : new BrineError('internal', (err as Error).message);
      if (!(err instanceof BrineError)) log.error({ err }, 'control request failed');
      send({ type: 'error', code: e.code, message: e.message });
      socket.end();
    });
}

/** Parses a request line into an object, or throws BadRequest. */
export function parseRequestObject(line: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new BadRequest('request is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BadRequest('request must be an object');
  return raw as Record<string, unknown>;
}

/** Writes event lines to a client, as long as it is there to read them. */
const eventWriter =
  <E extends { type: string }>(socket: Socket) =>
  (event: E): void => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(event)}\n`);
  };

/** How a client names the daemon behind a socket in its errors. */
export interface LocalPeer {
  path: string;
  daemon: DaemonName;
  /** Who may use the socket, said when permission is denied. */
  allowed: string;
  /** What to do when the daemon is not running. */
  whenDown?: string;
}

/**
 * Sends one request (with the operator making it, for audit) and yields the
 * daemon's events as they arrive. An `error` event throws it as a BrineError; a
 * connection that ends before one of the `final` events (the daemon died or was
 * stopped) throws `<daemon>_lost`, so a caller never takes half an answer for all
 * of it.
 */
export async function* localRequest<E extends { type: string }>(
  peer: LocalPeer,
  req: object,
  final: ReadonlySet<string>,
): AsyncGenerator<E> {
  const { path, daemon } = peer;
  const socket = createConnection(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
        reject(
          new BrineError(
            `${daemon}_down`,
            `the ${daemon} is not running (no control socket at ${path})${peer.whenDown ? `; ${peer.whenDown}` : ''}`,
          ),
        );
      else if (err.code === 'EACCES') reject(new BrineError('permission_denied', `permission denied on ${path}: ${peer.allowed}`));
      else reject(new BrineError('control_failed', `cannot reach the ${daemon} at ${path}: ${err.message}`));
    });
  });
  socket.write(`${JSON.stringify({ ...req, operator: currentOperator() })}\n`);
  let complete = false;
  try {
    for await (const line of createInterface({ input: socket, crlfDelay: Infinity })) {
      if (!line) continue;
      const event = JSON.parse(line) as E | { type: 'error'; code: string; message: string };
      if (event.type === 'error') {
        const { code, message } = event as { code: string; message: string };
        throw new BrineError(code, message);
      }
      complete ||= final.has(event.type);
      yield event as E;
    }
  } catch (err) {
    if (err instanceof BrineError) throw err;
    throw new BrineError(`${daemon}_lost`, `lost the connection to the ${daemon} at ${path}: ${(err as Error).message}`);
  } finally {
    socket.destroy();
  }
  if (!complete) throw new BrineError(`${daemon}_lost`, `the ${daemon} closed its control connection before answering (${path})`);
}
