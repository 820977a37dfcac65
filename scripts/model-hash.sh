#!/usr/bin/env bash
# Print a content hash of everything the Rasa model is trained from: data,
# domain, config and the code of our own components (a featurizer's new
# defaults change the features the model learnt from).
set -euo pipefail
{ find data -path data/directory -prune -o -type f \( -name '*.yml' -o -name '*.yaml' -o -name '*.txt' \) -print; echo config.yml; echo domain.yml; find rasa_addons -name '*.py' -print; } \
  | LC_ALL=C sort | while read -r f; do printf '%s\n' "$f"; cat "$f"; done | sha256sum | cut -d' ' -f1
