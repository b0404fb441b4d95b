# Redis keeps its data on the encrypted volume. Two guards keep it off the bare
# directory underneath: these states start it only after the mount (require), and
# its unit gets a drop-in so that systemd itself never starts it without the
# mount. The drop-in does not order redis after brine-minion.service: the minion
# starts redis from its startup states, before it reports ready, and a unit
# waiting for the minion would wait for itself.
{% set data = pillar['luks']['mountpoint'] ~ '/redis' %}

redis-data-dir:
  file.directory:
    - name: {{ data }}
    - user: redis
    - group: redis
    - mode: '0750'
    - require:
      - mount: data-mount

redis-unit-dropin:
  file.managed:
    - name: /etc/systemd/system/redis-server.service.d/brine.conf
    - makedirs: True
    - contents: |
        [Unit]
        RequiresMountsFor={{ pillar['luks']['mountpoint'] }}
        ConditionPathIsMountPoint={{ pillar['luks']['mountpoint'] }}
        [Service]
        ReadWritePaths={{ data }}
        ExecStart=
        ExecStart=/usr/bin/redis-server /etc/redis/redis.conf --supervised systemd --daemonize no --dir {{ data }}

systemd-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: redis-unit-dropin

redis:
  service.running:
    - name: redis-server
    - enable: False
    - require:
      - file: redis-data-dir
      - cmd: systemd-reload
    - watch:
      - file: redis-unit-dropin
