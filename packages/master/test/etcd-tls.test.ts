import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { tlsRefusal } from '../src/cluster/etcd-tls.js';
import type { ClusterConfig } from '../src/config.js';

/** Any PEM will do: these endpoints never get as far as checking a certificate. */
const CREDS = { ca: Buffer.from('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n') };
const config = (etcd: string[]): ClusterConfig => ({
  etcd,
  prefix: '/brine',
  name: 'm',
  stale_max: 30,
  pillar_check: 15,
  tls: { ca: '/etc/brine/etcd-ca.pem', cert: undefined, key: undefined },
});

const listen = (server: Server): Promise<number> =>
  new Promise((done) => server.listen(0, '127.0.0.1', () => done((server.address() as { port: number }).port)));

describe('the TLS diagnosis of an etcd endpoint that will not answer', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('has nothing to say of an endpoint out of reach: that is not a TLS fault (the master exits 1 and is restarted)', async () => {
    server = createServer();
    const port = await listen(server);
    server.close();
    expect(await tlsRefusal(config([`https://127.0.0.1:${port}`]), CREDS)).toBeUndefined();
  });

  it('names an https:// endpoint that speaks plaintext, and asks whether the member serves TLS', async () => {
    server = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const url = `https://127.0.0.1:${await listen(server)}`;
    const said = await tlsRefusal(config([url]), CREDS);
    expect(said).toContain(`the TLS handshake with etcd ${url} failed (`);
    expect(said).toContain('do the members serve TLS on these client URLs');
  });
});
