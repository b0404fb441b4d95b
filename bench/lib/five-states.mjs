// Five states of the kind Salt's figure used: file.managed and cmd.run tied by require/require_in.
export const FIVE_STATES = `
{% set base = '/tmp/brine-bench/' ~ grains['id'] %}
config-dir:
  file.directory:
    - name: {{ base }}
    - makedirs: True
config:
  file.managed:
    - name: {{ base }}/app.conf
    - contents: "site={{ pillar['site'] }}"
    - require:
      - file: config-dir
check-config:
  cmd.run:
    - name: test -s {{ base }}/app.conf
    - require:
      - file: config
marker:
  file.managed:
    - name: {{ base }}/marker
    - contents: ok
    - require_in:
      - cmd: announce
announce:
  cmd.run:
    - name: echo applied
`;
