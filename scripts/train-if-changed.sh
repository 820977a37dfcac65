#!/usr/bin/env bash
# Train the Rasa model only when its training data, domain or config changed.
set -euo pipefail
mkdir -p models
# one training at a time: a second caller waits, then finds the model up to date
exec 9>models/.train.lock
flock 9
hash="$(scripts/model-hash.sh)"
if [ -f models/frontdoor.tar.gz ] && [ "$(cat models/.data-hash 2>/dev/null)" = "$hash" ]; then
  echo "model up to date (models/frontdoor.tar.gz)"
  exit 0
fi
echo "training the Rasa model (data, domain or config changed)..."
# progress stays visible; library deprecation chatter does not
export PYTHONWARNINGS=ignore TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false
start=$(date +%s)
.venv-rasa/bin/rasa train --fixed-model-name frontdoor --out models
echo "$hash" > models/.data-hash
echo "$(( $(date +%s) - start ))" > models/.train-seconds
echo "model trained in $(cat models/.train-seconds) s"
