# The highstate: what each minion runs at boot (startup_states: highstate) or on `master apply <target> highstate`.
base:
  'db*':
    - storage
    - database
