#!/usr/bin/env bash
# Create (or re-create) the virtual environment DIR on Python VERSION.
set -euo pipefail
version="$1"; dir="$2"
py="$(scripts/find-python.sh "$version")"
if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$version'.split('.')))" 2>/dev/null; then
  exit 0
fi
rm -rf "$dir"
echo "creating $dir on $("$py" --version)"
"$py" -m venv "$dir"
