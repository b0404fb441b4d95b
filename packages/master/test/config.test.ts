import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { tempFile } from '../../../test/support/temp-file.js';
import { loadMasterConfig } from '../src/config.js';

const configFile = (text: string): string => tempFile('master.yml', text);

describe('the cluster: block of the master config', () => {
  it('is off when absent, and takes etcd defaults when set', () => {
    expect(loadMasterConfig(configFile('port: 4506\n')).cluster).toBeUndefined();
    const file = configFile('cluster:\n  etcd: [http://10.0.0.1:2379, http://10.0.0.2:2379]\n');
    expect(loadMasterConfig(file).cluster).toEqual({
      etcd: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'],
      prefix: '/brine',
      name: hostname(),
      stale_max: 30,
      pillar_check: 15,
      tls: undefined,
    });
  });

  it('names the line of what is wrong', () => {
    const cases: [string, string][] = [
      ['cluster:\n  name: a\n', "option 'cluster.etcd': list the etcd members"],
      ['cluster:\n  etcd: [10.0.0.1:2379]\n', ":2: option 'cluster.etcd': '10.0.0.1:2379' is not http(s)://host:port"],
      ['cluster:\n  etcd: [http://e:2379]\n  prefix: brine/\n', ":3: option 'cluster.prefix': must start with / and not end with /"],
      ['cluster:\n  etcd: [http://e:2379]\n  stale_max: 0\n', ":3: option 'cluster.stale_max' must be between 1 and 3600"],
      ['cluster:\n  etcd: [http://e:2379]\n  tls: {cert: c.pem, key: k.pem}\n', ":3: option 'cluster.tls': 'ca' is required"],
      ['cluster:\n  etcd: [http://e:2379]\n  tls: {ca: ca.pem}\n', ":2: option 'cluster': with 'tls' every etcd endpoint is https://"],
      [
        'cluster:\n  etcd: [https://e:2379]\n  tls: {ca: ca.pem, key: k.pem}\n',
        ":3: option 'cluster.tls': 'cert' is missing: 'cert' and 'key' go together",
      ],
      [
        'cluster:\n  etcd: [https://e:2379]\n  tls: {ca: ca.pem, cert: c.pem}\n',
        ":3: option 'cluster.tls': 'key' is missing: 'cert' and 'key' go together",
      ],
    ];
    for (const [text, error] of cases) expect(() => loadMasterConfig(configFile(text)), text).toThrow(error);
  });
});

describe('minion_networks', () => {
  it('maps id globs to IPv4 and IPv6 networks, and is empty (nobody restricted) by default', () => {
    expect(loadMasterConfig(configFile('port: 4506\n')).minion_networks).toEqual({});
    const file = configFile("minion_networks:\n  web*: [10.0.0.0/24, 'fd00::/64']\n  db1: 10.0.1.5\n  '*': [127.0.0.0/8]\n");
    expect(loadMasterConfig(file).minion_networks).toEqual({ 'web*': ['10.0.0.0/24', 'fd00::/64'], db1: '10.0.1.5', '*': ['127.0.0.0/8'] });
  });

  it('names the option, the glob and the bad network', () => {
    const cases: [string, string][] = [
      [
        'minion_networks:\n  web*: [10.0.0.0/33]\n',
        ":2: option 'minion_networks': 'web*': '10.0.0.0/33': the prefix length must be 0 to 32",
      ],
      ["minion_networks:\n  web*: ['fd00::/129']\n", "option 'minion_networks': 'web*': 'fd00::/129': the prefix length must be 0 to 128"],
      ['minion_networks:\n  db*: [10.0.0.0/8, intranet]\n', "option 'minion_networks': 'db*': 'intranet' is not an IPv4 or IPv6 address"],
      ['minion_networks:\n  db*: []\n', "option 'minion_networks': 'db*': list at least one network"],
      ['minion_networks: [10.0.0.0/8]\n', "option 'minion_networks' must be a mapping"],
    ];
    for (const [text, error] of cases) expect(() => loadMasterConfig(configFile(text)), text).toThrow(error);
  });
});
