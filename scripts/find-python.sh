#!/usr/bin/env bash
# Print the path of a working python<VERSION> (e.g. 3.10), or explain how to get one.
set -euo pipefail
want="${1:?usage: find-python.sh 3.10|3.11}"
works() { [ -n "$1" ] && "$1" -c "import sys, venv; assert sys.version_info[:2] == tuple(map(int, '$want'.split('.')))" >/dev/null 2>&1; }
for cand in "$(command -v "python$want" 2>/dev/null || true)" \
            $(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/"$want".*/bin/python"$want" 2>/dev/null | sort -rV) \
            $(ls -d /usr/bin/python"$want" /usr/local/bin/python"$want" 2>/dev/null) \
            "$(uv python find "$want" 2>/dev/null || true)"; do
  if works "$cand"; then echo "$cand"; exit 0; fi
done
echo "error: Python $want not found. Install it (e.g. 'pyenv install $want', 'uv python install $want' or 'apt-get install python$want python$want-venv') and re-run make." >&2
exit 1
