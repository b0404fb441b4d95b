import { assertSlsName, EncryptedSecret, lookupPath, type PillarResult, type UntrustedSecret } from '@brine/states';
import { PillarCiphertextError } from './pillar-crypto.js';
import type { ErrorInfo, Json, Request } from '@brine/protocol';
import type { AuditLog } from './audit.js';
import type { Dispatcher } from './jobs/dispatcher.js';
import type { JobOrigin } from './jobs/job-store.js';
import type { MinionRegistry } from './minion-registry.js';
import type { PillarService } from './pillar-service.js';
import type { StateTree } from './state-tree.js';
import type { Session, SessionRole } from './sessions.js';

/** What an operation answers: a JSON value, or raw bytes (secrets), or an error. */
/** `later`: the answer is sent once this settles (a return is acknowledged when it is on disk). */
export type OpResult = { value?: Json; raw?: Uint8Array; error?: ErrorInfo; later?: Promise<OpResult> };

export interface OpContext {
  session: Session;
  peer: string | undefined;
}

type Operation = (args: Request['args'], ctx: OpContext) => OpResult;

/** Origins a minion may give the jobs it begins; `master` is the master's own. */
const MINION_ORIGINS: ReadonlySet<string> = new Set(['startup', 'minion']);
/** SLS names one job.begin may list. */
const MAX_BEGIN_MODS = 64;

const fail = (code: string, message: string): OpResult => ({ error: { code, message } });

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The operations an authenticated minion may call, and nothing else. Each acts
 * on the session's own minion id, never on an id named in the request, so no
 * request can reach another minion's data.
 */
export class Operations {
  private readonly table: Record<string, Operation>;

  constructor(
    private readonly pillar: PillarService,
    private readonly audit: AuditLog,
    private readonly master: { fingerprint: string },
    private readonly registry: MinionRegistry,
    private readonly dispatcher: Dispatcher,
    private readonly stateTree: StateTree,
    /** `key.rotate`; without it the operation is unknown. */
    minionKeys?: { rotate: Operation },
  ) {
    this.table = {
      hello: (args, ctx) => this.hello(args, ctx),
      ping: () => ({ value: true }),
      'pillar.items': (_args, ctx) => this.pillarItems(ctx),
      'pillar.get': (args, ctx) => this.pillarGet(args, ctx),
      'job.return': (args, ctx) => this.jobReturn(args, ctx),
      'job.begin': (args, ctx) => this.jobBegin(args, ctx),
      'state.tree': (args) => this.stateTreeOp(args),
      ...(minionKeys && { 'key.rotate': (args: Request['args'], ctx: OpContext) => minionKeys.rotate(args, ctx) }),
    };
  }

  run(request: Request, ctx: OpContext): OpResult {
    const op = Object.hasOwn(this.table, request.op) ? this.table[request.op] : undefined;
    if (!op) return fail('unknown_operation', `unknown operation '${request.op}'`);
    return op(request.args, ctx);
  }

  /** First request of every session: says what the session is for and brings the minion's grains. */
  private hello(args: Request['args'], ctx: OpContext): OpResult {
    const role = args['role'];
    if (role !== 'daemon' && role !== 'cli') return fail('bad_request', "hello: 'role' must be 'daemon' or 'cli'");
    if (args['grains'] !== undefined && !isObject(args['grains'])) return fail('bad_request', "hello: 'grains' must be a mapping");
    ctx.session.role = role as SessionRole;
    ctx.session.grains = (args['grains'] as Record<string, Json> | undefined) ?? {};
    if (role === 'daemon') this.registry.daemonHello(ctx.session, ctx.peer);
    return { value: { master: this.master.fingerprint } };
  }

  /** The state tree from file_roots, unless the minion already holds this version (`have`). */
  private stateTreeOp(args: Request['args']): OpResult {
    const snapshot = this.stateTree.snapshot();
    if (args['have'] === snapshot.hash) return { value: { hash: snapshot.hash, unchanged: true } };
    const files: Record<string, string> = {};
    for (const [path, data] of snapshot.files) files[path] = data.toString('base64');
    return { value: { hash: snapshot.hash, files } };
  }

  /**
   * A job the minion starts itself: its startup states (`origin: startup`, the
   * default for minions older than the field) or an operator's `minion apply`
   * (`origin: minion`). Recorded in the job cache like a pushed one, for this
   * minion only, so its return is kept and shown by `master jobs` and `master status`.
   * The minion's arguments end up on the master's disk: only known, bounded ones are taken.
   */
  private jobBegin(args: Request['args'], ctx: OpContext): OpResult {
    const { fun, args: jobArgs, origin = 'startup' } = args;
    if (fun !== 'state.apply' || !isObject(jobArgs)) return fail('bad_request', "job.begin: only 'state.apply' with an 'args' mapping");
    if (typeof origin !== 'string' || !MINION_ORIGINS.has(origin))
      return fail('bad_request', "job.begin: 'origin' must be 'startup' or 'minion'");
    const problem = stateApplyArgsProblem(jobArgs);
    if (problem) return fail('bad_request', `job.begin: ${problem}`);
    const recorded = { mods: jobArgs['mods']!, test: jobArgs['test']! };
    const job = this.dispatcher.record(
      { fun, args: recorded, target: ctx.session.minionId, tgt_type: 'list' },
      [ctx.session.minionId],
      origin as JobOrigin,
    );
    return {
      later: job.then(
        ({ jid }) => ({ value: jid }),
        (err: unknown) => fail('job_not_recorded', `the master could not record the job: ${(err as Error).message}`),
      ),
    };
  }

  /** A minion reports a job's result; only for a job that was sent to it. */
  private jobReturn(args: Request['args'], ctx: OpContext): OpResult {
    const { jid, success, ret } = args;
    if (typeof jid !== 'string' || typeof success !== 'boolean' || ret === undefined) {
      return fail('bad_request', "job.return: needs 'jid' (string), 'success' (boolean) and 'ret'");
    }
    // The minion drops its copy on this answer, so it is sent only once the return is kept.
    const saved = this.dispatcher.onReturn(ctx.session, jid, success, ret);
    return {
      later: saved.then(
        (known) => (known ? { value: true } : fail('unknown_job', `no job ${jid} for ${ctx.session.minionId}`)),
        () => fail('return_not_saved', `the master could not save the return of job ${jid}; the minion keeps it and retries`),
      ),
    };
  }

  private compile(ctx: OpContext, path: string): { result: PillarResult } | { failed: OpResult } {
    const { session } = ctx;
    const result = this.pillar.compile({ id: session.minionId, grains: session.grains });
    if (result.errors.length === 0) return { result };
    this.audit.write({
      event: 'pillar_render_failed',
      minion: session.minionId,
      fingerprint: session.fingerprint,
      peer: ctx.peer,
      path,
      reason: result.errors.join('; '),
    });
    return { failed: fail('pillar_render_failed', `pillar for ${session.minionId} failed to render:\n${result.errors.join('\n')}`) };
  }

  private delivered(ctx: OpContext, result: PillarResult, op: string, path: string, secret?: boolean): void {
    const { session } = ctx;
    this.audit.write({
      event: 'pillar_delivered',
      minion: session.minionId,
      fingerprint: session.fingerprint,
      peer: ctx.peer,
      op,
      path,
      rendered_for: result.renderedFor,
      ...(secret !== undefined && { secret }),
    });
  }

  private pillarItems(ctx: OpContext): OpResult {
    const compiled = this.compile(ctx, '*');
    if ('failed' in compiled) return compiled.failed;
    this.delivered(ctx, compiled.result, 'pillar.items', '*');
    return { value: compiled.result.pillar as Json };
  }

  /**
   * One value by `a:b:c` path. With `raw`, a scalar comes back as bytes outside
   * the JSON header, so the minion can keep it in a buffer it zeroes (LUKS keys).
   * A value marked `!secret` is delivered only that way.
   */
  private pillarGet(args: Request['args'], ctx: OpContext): OpResult {
    const path = args['path'];
    if (typeof path !== 'string' || path.length === 0 || path.length > 1024)
      return fail('bad_request', "pillar.get: 'path' must be a non-empty string");
    const compiled = this.compile(ctx, path);
    if ('failed' in compiled) return compiled.failed;
    const raw = args['raw'] === true;
    // By the path as asked, or as found (a withheld list item is a null in `raw`, under its plain index).
    const asFound = lookupPath(compiled.result.raw, path).path;
    const withheld = compiled.result.untrusted.find((u) => u.path === path || u.path === asFound);
    if (withheld) return this.withheld(ctx, compiled.result, withheld);
    const { found, value, path: canonical } = lookupPath(raw ? compiled.result.raw : compiled.result.pillar, path);
    if (!found && !raw && lookupPath(compiled.result.raw, path).found) {
      return fail('secret', `pillar key '${path}' is marked !secret: the master hands it only to a state that names it (key_pillar)`);
    }
    if (!found) return fail('not_found', `pillar key '${path}' not found for ${ctx.session.minionId}`);
    if (!raw) {
      this.delivered(ctx, compiled.result, 'pillar.get', path);
      return { value: value as Json };
    }
    if (value instanceof EncryptedSecret) return this.decrypted(ctx, compiled.result, canonical!, value);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      return fail('not_scalar', `pillar key '${path}' is not a single value`);
    }
    this.delivered(ctx, compiled.result, 'pillar.get', path, isSecretPath(compiled.result.secrets, canonical!));
    return { raw: new TextEncoder().encode(String(value)) };
  }

  /**
   * An `!encrypted` value, opened for this delivery only: the bytes go out as the raw answer and
   * the outbox zeroes them once sealed for the session. One bound to another path or minion
   * (copied there) is refused naming the file and key, and audited.
   */
  private decrypted(ctx: OpContext, result: PillarResult, path: string, secret: EncryptedSecret): OpResult {
    let value: Uint8Array;
    try {
      value = this.pillar.decrypt(secret, { path, minion: ctx.session.minionId });
    } catch (err) {
      if (!(err instanceof PillarCiphertextError)) throw err;
      const { session } = ctx;
      const reason = `${secret.file}: pillar key '${path}' is !encrypted, and ${err.message}`;
      // Rate-limited like every refusal: a minion can ask for it again and again.
      this.audit.refuse({
        event: 'pillar_decrypt_refused',
        minion: session.minionId,
        fingerprint: session.fingerprint,
        peer: ctx.peer,
        op: 'pillar.get',
        path,
        rendered_for: result.renderedFor,
        reason,
      });
      return fail('pillar_decrypt_failed', reason);
    }
    this.delivered(ctx, result, 'pillar.get', path, true);
    return { raw: value };
  }

  /** A `!secret` value that only grains the minion reported selected: refused by name, and audited. */
  private withheld(ctx: OpContext, result: PillarResult, secret: UntrustedSecret): OpResult {
    const { session } = ctx;
    this.audit.write({
      event: 'pillar_withheld',
      minion: session.minionId,
      fingerprint: session.fingerprint,
      peer: ctx.peer,
      op: 'pillar.get',
      path: secret.path,
      rendered_for: result.renderedFor,
      reason: `${secret.file}: ${secret.reason}`,
    });
    return fail(
      'secret_untrusted_grains',
      `pillar key '${secret.path}' is marked !secret in ${secret.file}, which is in this minion's pillar only by grains the minion reported (${secret.reason}); ` +
        'the master withholds it: select the file by minion id, or by nodegroups (master config) with match: nodegroup in the top file, or set pillar_trust_minion_grains: true',
    );
  }
}

/** A path at or under a `!secret` value (secret paths name list items by plain index, as lookupPath's path does). */
const isSecretPath = (secrets: readonly string[], path: string): boolean => secrets.some((s) => path === s || path.startsWith(`${s}:`));

/** Why a minion's state.apply arguments are not `{mods: [SLS names], test: boolean}`; undefined when they are. */
function stateApplyArgsProblem(args: Record<string, Json>): string | undefined {
  const { mods, test } = args;
  if (Object.keys(args).some((k) => k !== 'mods' && k !== 'test')) return "'args' may hold only 'mods' and 'test'";
  if (typeof test !== 'boolean') return "'args.test' must be true or false";
  if (!Array.isArray(mods) || mods.length > MAX_BEGIN_MODS || !mods.every(isSlsName))
    return `'args.mods' must be a list of at most ${MAX_BEGIN_MODS} SLS names`;
  return undefined;
}

function isSlsName(name: Json): boolean {
  if (typeof name !== 'string') return false;
  try {
    assertSlsName(name);
    return true;
  } catch {
    return false;
  }
}
