import { isIP } from 'node:net';
import { connect } from 'node:tls';
import type { ClusterConfig } from '../config.js';

/** PEM contents of `cluster.tls`, as given to the etcd client. */
export interface TlsCredentials {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Longest one endpoint's TLS probe may take: past it, the endpoint is out of reach, not refusing. */
const PROBE_MS = 2000;

/** Errors of the master's own check of a member's certificate (Node's codes for OpenSSL's X509_V_ERR_*). */
const SERVER_CERT_UNTRUSTED = /^(UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|CERT_|INVALID_CA$|HOSTNAME_MISMATCH$)/;

/**
 * Connects to `endpoint` with this master's TLS credentials as the etcd client would
 * (HTTP/2 by ALPN, the server's certificate checked against `ca` and the endpoint's host)
 * and waits for etcd's first bytes: a member that refuses the client certificate says
 * so with a TLS alert only then (TLS 1.3). Resolves to the error, or undefined when
 * etcd spoke or did not answer in time.
 */
function probe(endpoint: string, creds: TlsCredentials): Promise<NodeJS.ErrnoException | undefined> {
  const { hostname, port } = new URL(endpoint);
  const host = hostname.replace(/^\[|\]$/g, '');
  return new Promise((done) => {
    const socket = connect({ host, port: Number(port), ...creds, ALPNProtocols: ['h2'], ...(isIP(host) === 0 && { servername: host }) });
    const end = (err?: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      done(err);
    };
    const timer = setTimeout(() => end(), PROBE_MS);
    socket.once('data', () => end());
    socket.once('error', end);
    socket.once('end', () => end());
  });
}

/** What went wrong with TLS at the endpoints named `at`, and what to do about it; undefined for a fault that is not TLS's. */
function explain(err: NodeJS.ErrnoException, tls: NonNullable<ClusterConfig['tls']>, at: string): string | undefined {
  const code = err.code ?? '';
  // OpenSSL's "…:SSL routines:<function>:<reason>:<file>:<line>…" -> "<reason>"
  const reason = /SSL routines:[^:]*:([^:]+)/.exec(err.message)?.[1] ?? err.message;
  if (/^ERR_SSL_.*ALERT_(BAD_CERTIFICATE|CERTIFICATE_|UNKNOWN_CA|UNSUPPORTED_CERTIFICATE)/.test(code)) {
    return tls.cert
      ? `etcd ${at} refused this master's client certificate ${tls.cert} (TLS: ${reason}): it must be signed by a CA in the members' --trusted-ca-file, unexpired, for clientAuth`
      : `etcd ${at} refused this master, which has no client certificate (TLS: ${reason}): the members require one (--client-cert-auth); set cluster.tls.cert and cluster.tls.key`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the certificate of etcd ${at} does not hold the endpoint's host in its subjectAltName: list the members in cluster.etcd by a name or IP address their certificates hold`;
  }
  if (SERVER_CERT_UNTRUSTED.test(code)) {
    return `this master does not trust the certificate of etcd ${at} (${err.message}): cluster.tls.ca ${tls.ca} must be the CA that signed the members' certificates`;
  }
  if (code.startsWith('ERR_SSL_'))
    return `the TLS handshake with etcd ${at} failed (${reason}): do the members serve TLS on these client URLs (--cert-file, --key-file)?`;
  return undefined;
}

/** Stands for the endpoints in a problem, until those with the same problem are known. */
const AT = '\u0000';

/**
 * Why this master's TLS connections to etcd fail, endpoint by endpoint, in words an
 * operator can act on; undefined when every endpoint completes its handshake or fails
 * for another reason (out of reach: the etcd client's own error says that well enough).
 */
export async function tlsRefusal(config: ClusterConfig, creds: TlsCredentials): Promise<string | undefined> {
  const tls = config.tls!;
  const errors = await Promise.all(config.etcd.map((endpoint) => probe(endpoint, creds)));
  const byProblem = new Map<string, string[]>();
  config.etcd.forEach((endpoint, i) => {
    const problem = errors[i] && explain(errors[i], tls, AT);
    if (problem) byProblem.set(problem, [...(byProblem.get(problem) ?? []), endpoint]);
  });
  if (byProblem.size === 0) return undefined;
  return [...byProblem].map(([problem, endpoints]) => problem.replace(AT, endpoints.join(', '))).join('; ');
}
