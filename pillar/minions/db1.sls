# Example only: generate one random passphrase per minion, e.g. `openssl rand -base64 32`.
luks:
  password: demo-passphrase-db1-4f0c2a-change-me
  dev_name: /dev/vdb
  vg_name: vg_data
  mountpoint: /srv/data
