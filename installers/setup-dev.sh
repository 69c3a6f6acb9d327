#!/usr/bin/env bash
# Set up (or bring up to date) the development environment in .venv at the repository root:
# torch first with its pinned build, then xdub itself, editable, with the GUI and dev extras.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check torch==2.14.1 torchvision==0.29.1
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[gui,dev,farm]"
echo "xdub environment ready: $(pwd)/.venv"
