# Example only: generate one random passphrase per minion, e.g. `openssl rand -base64 32`.
# `!secret` keeps it out of the pillar the minion renders its states with: a state
# names it (key_pillar: luks:password) and gets it from the master only when it runs.
luks:
  password: !secret demo-passphrase-db2-91be77-change-me
  dev_name: /dev/vdb
  vg_name: vg_data
  mountpoint: /srv/data
