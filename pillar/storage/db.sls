# Example only: a real deployment generates one random passphrase per minion.
luks:
  password: demo-passphrase-db1-change-me
  vg_name: vg_data
  dev_name: /dev/vdb
  mountpoint: /srv/data
