# An encrypted data volume, built on first boot and unlocked on every boot after:
# physical volume -> volume group -> logical volume -> LUKS -> file system -> mount.
# The passphrase is never rendered here: luks.mapped asks the master for it
# (key_pillar) at the moment cryptsetup needs it, and feeds it on stdin.
{% set luks = pillar['luks'] %}

data-pv:
  lvm.pv_present:
    - name: {{ luks['dev_name'] }}

data-vg:
  lvm.vg_present:
    - name: {{ luks['vg_name'] }}
    - devices:
      - {{ luks['dev_name'] }}
    - require:
      - lvm: data-pv

data-lv:
  lvm.lv_present:
    - name: data
    - vgname: {{ luks['vg_name'] }}
    - extents: 100%FREE
    - require:
      - lvm: data-vg

data-crypt:
  luks.mapped:
    - name: data_crypt
    - device: /dev/{{ luks['vg_name'] }}/data
    - key_pillar: luks:password
    - cipher: {{ luks['cipher'] }}
    - key_size: {{ luks['key_size'] }}
{% if luks.get('pbkdf') %}
    - pbkdf: {{ luks['pbkdf'] }}
{% endif %}
{% if luks.get('pbkdf_force_iterations') %}
    - pbkdf_force_iterations: {{ luks['pbkdf_force_iterations'] }}
{% endif %}
    - require:
      - lvm: data-lv

data-fs:
  blockdev.formatted:
    - name: /dev/mapper/data_crypt
    - fs_type: ext4
    - require:
      - luks: data-crypt

data-mount:
  mount.mounted:
    - name: {{ luks['mountpoint'] }}
    - device: /dev/mapper/data_crypt
    - fstype: ext4
    - mkmnt: True
    - opts: noatime
    - require:
      - blockdev: data-fs
