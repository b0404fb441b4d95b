// Client process of the kxd storm (forked by kxd.mjs): its share of the key fetches, all started
// at the same instant, each a fresh mutual-TLS connection and one GET, as kxc makes it: the URL
// kxd://127.0.0.1:<port>/host<i>/luks becomes GET /v1/host<i>/luks over HTTP/1.1 (no ALPN: kxc's
// Go transport has its own TLS config, which turns HTTP/2 off), with Go's client headers. Node
// adds `Connection: close` (no agent), where kxc's process exits after the answer.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createSecureContext } from 'node:tls';
import { clientStorm, requestOnce } from './peer-clients.mjs';

const KXC_HEADERS = { 'User-Agent': 'Go-http-client/1.1', 'Accept-Encoding': 'gzip' };

process.on('message', async (m) => {
  if (m.type === 'ready?') process.send({ type: 'ready' });
  if (m.type !== 'go') return;
  // The server certificate is the only trusted one (kxc's --server_cert); contexts are made once
  // per client certificate, as each kxc process loads its files once.
  const ca = readFileSync(m.serverCert);
  const contexts = m.clientCerts.map(({ cert, key }) => createSecureContext({ ca, cert: readFileSync(cert), key: readFileSync(key) }));
  let resumed = 0;
  const protocols = new Set();
  const attempt = async (i) => {
    const host = m.first + i;
    const options = { port: m.port, path: `/v1/host${host}/luks`, headers: KXC_HEADERS, secureContext: contexts[host % contexts.length] };
    const answer = await requestOnce(request, options, undefined, m.attemptTimeoutMs);
    if (answer.resumed) resumed++;
    protocols.add(answer.protocol);
    return answer;
  };
  const check = (i, data) => (data.equals(Buffer.from(m.keys[i], 'base64')) ? undefined : 'answer is not the key');
  process.send({ type: 'done', ...(await clientStorm(m, attempt, check)), resumed, protocols: [...protocols] });
});
