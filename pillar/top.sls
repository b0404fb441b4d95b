# Which pillar files each minion gets (Salt's pillar top file). Every minion has
# its own file: a minion can only ever receive its own LUKS passphrase.
base:
  '*':
    - common
  'db1':
    - minions.db1
  'db2':
    - minions.db2
