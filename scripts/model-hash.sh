#!/usr/bin/env bash
# Print a content hash of everything the Rasa model is trained from: data,
# domain, config and the code of our own components (a featurizer's new
# defaults change the features the model learnt from; the tracker store, the
# channel, the triage worker and the speed-ups run beside the model, not in it).
set -euo pipefail
{ find data -path data/directory -prune -o -type f \( -name '*.yml' -o -name '*.yaml' -o -name '*.txt' \) -print; echo config.yml; echo domain.yml; find rasa_addons -name '*.py' ! -name 'tracker_store.py' ! -name 'triage_worker.py' ! -name 'frontdoor_channel.py' ! -name 'speedups.py' -print; } \
  | LC_ALL=C sort | while read -r f; do printf '%s\n' "$f"; cat "$f"; done | sha256sum | cut -d' ' -f1
