import { strictUtf8, utf8 } from './crypto.js';
import { ProtocolError } from './errors.js';

/*
 * A decrypted payload is a JSON header, optionally followed by raw bytes. Secrets
 * travel as those raw bytes, never inside the JSON, so the receiver can hold them
 * in a buffer it zeroes after use instead of an immutable string.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Request {
  t: 'req';
  id: number;
  op: string;
  args: { [key: string]: Json };
}

export interface ErrorInfo {
  code: string;
  message: string;
}

export interface Response {
  t: 'res';
  id: number;
  ok: boolean;
  value?: Json;
  error?: ErrorInfo;
  /** The answer is in the raw body, not in `value`. */
  raw?: boolean;
}

/** `refused`: a new key the master would not record (too many pending keys, see max_pending_keys). */
export type AuthStatus = 'accepted' | 'pending' | 'rejected' | 'denied' | 'refused';

/** The master's answer to an AUTH: whether the minion is let in, and the answer to its first request. */
export interface AuthResult {
  t: 'auth';
  status: AuthStatus;
  message: string;
  res?: Response;
  /**
   * Base64 of a master key rotation statement (PROTOCOL.md): sent only on a session
   * the master opened with the identity it is retiring, to a minion that pinned it.
   */
  rotation?: string;
}

/**
 * What a `state.apply` job brings along so the minion need not ask before it runs:
 * its own compiled pillar and the hash of the state tree at publish time. Either
 * may be missing (a pillar that failed to render); the minion then asks as usual.
 */
export interface JobContext {
  pillar?: { [key: string]: Json };
  state_tree?: string;
}

/** A job the master pushes to one minion (never broadcast: sealed for that minion's session). */
export interface Job {
  t: 'job';
  jid: string;
  fun: string;
  args: { [key: string]: Json };
  context?: JobContext;
}

export type Header = Request | Response | AuthResult | Job;

export interface Payload<H extends Header = Header> {
  header: H;
  body: Uint8Array | undefined;
}

export function encodePayload(header: Header, body?: Uint8Array): Uint8Array {
  const json = utf8(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + (body?.length ?? 0));
  new DataView(out.buffer).setUint32(0, json.length);
  out.set(json, 4);
  if (body) out.set(body, 4 + json.length);
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A request carried inside another message (hello's `then`), checked as a top-level one would be. */
export function asRequest(value: unknown): Request | undefined {
  if (!isObject(value) || value['t'] !== 'req') return undefined;
  return Number.isSafeInteger(value['id']) && typeof value['op'] === 'string' && isObject(value['args'])
    ? (value as unknown as Request)
    : undefined;
}

const isJobContext = (v: unknown): boolean =>
  isObject(v) &&
  (v['pillar'] === undefined || isObject(v['pillar'])) &&
  (v['state_tree'] === undefined || typeof v['state_tree'] === 'string');

export function decodePayload(bytes: Uint8Array): Payload {
  const bad = (why: string): never => {
    throw new ProtocolError('bad_payload', why);
  };
  if (bytes.length < 4) bad('payload too short');
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  if (4 + length > bytes.length) bad('payload header length out of range');
  let header: unknown;
  try {
    header = JSON.parse(strictUtf8(bytes.subarray(4, 4 + length)));
  } catch {
    bad('payload header is not JSON');
  }
  if (!isObject(header)) return bad('payload header is not an object');
  const body = bytes.length > 4 + length ? bytes.subarray(4 + length) : undefined;
  const intId = Number.isSafeInteger(header['id']);
  switch (header['t']) {
    case 'req':
      if (!intId || typeof header['op'] !== 'string' || !isObject(header['args'])) bad('malformed request');
      break;
    case 'res':
      if (!intId || typeof header['ok'] !== 'boolean') bad('malformed response');
      break;
    case 'job':
      if (typeof header['jid'] !== 'string' || typeof header['fun'] !== 'string' || !isObject(header['args'])) bad('malformed job');
      if (header['context'] !== undefined && !isJobContext(header['context'])) bad('malformed job context');
      break;
    case 'auth':
      if (
        !['accepted', 'pending', 'rejected', 'denied', 'refused'].includes(header['status'] as string) ||
        typeof header['message'] !== 'string'
      ) {
        bad('malformed auth result');
      }
      break;
    default:
      bad(`unknown payload type ${JSON.stringify(header['t'])}`);
  }
  return { header: header as unknown as Header, body };
}
