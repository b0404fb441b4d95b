# Which pillar files each minion gets (Salt's pillar top file).
base:
  '*':
    - common
  'db*':
    - storage.db
