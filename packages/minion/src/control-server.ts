import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { BrineError, listenLocal, serveRequest, type Logger } from '@brine/common';
import type { MasterLink } from './channel.js';
import { MAX_REQUEST_BYTES, parseRequest, type ControlEvent, type WireRequest } from './control-protocol.js';
import type { JobResult, JobRunner } from './jobs.js';
import { ownStateApply } from './state-run/own-job.js';
import type { StateArgs } from './state-run/startup-states.js';

/** Connections served at once: each is a root shell waiting for a state run; more is a runaway script. */
const MAX_CONNECTIONS = 32;

export interface ControlDeps {
  channel: MasterLink;
  /** The daemon's one runner: a run asked for here waits for pushed and startup jobs, and they for it. */
  runner: JobRunner;
  log: Logger;
  /** Told of every run this socket made, once it finished. */
  onResult: (args: StateArgs, jid: string, result: JobResult) => void;
}

/**
 * The minion daemon's control socket: `minion apply` without `--local` asks the
 * daemon to run states, as `salt-call state.apply` does. The daemon records the
 * run on the master (`job.begin`), queues it in the runner that runs pushed and
 * startup jobs (so state runs never overlap), and streams back the return the
 * master gets: secrets never travel on this socket, pillar stays in the daemon.
 *
 * The socket is 0600 in a 0700 sock_dir of the daemon's user (root): the kernel
 * lets no one else connect. A request that is malformed, too large or too slow
 * gets an error event and its connection closed; the daemon serves on.
 */
export class ControlServer {
  private readonly server: Server;

  constructor(
    private readonly path: string,
    private readonly deps: ControlDeps,
  ) {
    this.server = createServer((socket) => this.serve(socket));
    this.server.maxConnections = MAX_CONNECTIONS;
  }

  start(): Promise<void> {
    return listenLocal(this.server, this.path, 'minion');
  }

  close(): void {
    this.server.close();
    rmSync(this.path, { force: true });
  }

  private serve(socket: Socket): void {
    serveRequest<ControlEvent>(socket, MAX_REQUEST_BYTES, this.deps.log, (line, send) => this.apply(parseRequest(line), send, socket));
  }

  private async apply(req: WireRequest, send: (e: ControlEvent) => void, socket: Socket): Promise<void> {
    const { channel, runner, log } = this.deps;
    // The state engine's name rules; it loads now anyway, for the run.
    const { assertSlsName } = await import('@brine/states');
    for (const sls of req.mods) assertSlsName(sls);
    const args: StateArgs = { mods: req.mods, test: req.test };
    log.info({ ...req.operator, mods: args.mods, test: args.test }, 'minion apply requested');

    // Leaving the line: the client gave up (its connection closed) or waited as long as it would.
    const leave = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const activity = runner.activity();
    if (activity.busy) {
      const holder = activity.running ? `job ${activity.running.jid} (${activity.running.fun})` : 'a job that is starting';
      if (req.wait === 0)
        throw new BrineError('busy', `another state run holds this minion: ${holder}; nothing ran (wait for it with --wait <seconds>)`);
      send({ type: 'waiting', ...(activity.running && { running: activity.running }), queued: activity.queued, wait: req.wait });
      timer = setTimeout(
        () => leave.abort(new BrineError('busy', `gave up after waiting ${req.wait} s behind ${holder}; nothing ran`)),
        req.wait * 1000,
      );
    }
    socket.once('close', () => leave.abort(new BrineError('client_gone', 'the client left')));

    let jid = '';
    let result: JobResult;
    try {
      result = await runner.enqueue(ownStateApply(channel, args, 'minion'), {
        signal: leave.signal,
        onStart: (started) => {
          clearTimeout(timer);
          jid = started;
          send({ type: 'started', jid });
        },
      });
    } catch (err) {
      if (err instanceof BrineError && (err.code === 'busy' || err.code === 'client_gone')) throw err;
      // job.begin failed: the master was not reached, or refused to record the run.
      throw new BrineError('master_unreachable', `the master did not record the run, so nothing ran: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    send({ type: 'done', jid, success: result.success, ret: result.ret });
    socket.end();
    this.deps.onResult(args, jid, result);
  }
}
