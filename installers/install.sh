#!/bin/sh
# xdub installer for Linux and macOS: one step from nothing to "Dub clip".
#
#   sh installers/install.sh [--torch cpu|cu126|cu128|cu130|rocm|mps] [--wheelhouse DIR]
#                            [--dry-run] [--no-setup] [-- xdub setup options]
#   sh installers/install.sh --uninstall [--purge]
#
# This script only gets uv (a pinned release) and hands over to xdub/setup/environment.py,
# run by uv's own Python (uv downloads one when the machine has no Python 3.11): it picks the
# torch build, installs the lock for it into a fresh environment, puts `xdub` on PATH and runs
# `xdub setup`. What it changes on the machine: docs/install.md.
set -eu
UV_VERSION=0.13.8
source_dir=$(cd "$(dirname "$0")/.." && pwd)

case "$(uname -s)" in
    Darwin) data_dir=${XDUB_DATA_DIR:-"$HOME/Library/Application Support/xdub"} ;;
    *) data_dir=${XDUB_DATA_DIR:-"${XDG_DATA_HOME:-$HOME/.local/share}/xdub"} ;;
esac

# The first folder of the data path that does not exist yet: uninstall removes what we create.
created=""
folder=$data_dir
while [ ! -e "$folder" ]; do created=$folder; folder=$(dirname "$folder"); done
# A Python that uv downloads (the machine has no 3.11) lives in, and goes with, the app folder.
export UV_PYTHON_INSTALL_DIR="$data_dir/app/python"

if [ "${1:-}" = "--uninstall" ]; then
    shift
    launcher="${XDG_BIN_HOME:-$HOME/.local/bin}/xdub"
    [ -x "$launcher" ] || { echo "xdub is not installed (no $launcher)" >&2; exit 1; }
    exec "$launcher" setup --uninstall "$@"
fi

find_uv() {  # the pinned uv: $XDUB_UV, uv on PATH, or the one this installer fetched before
    for candidate in "${XDUB_UV:-}" "$(command -v uv || true)" "$data_dir/app/uv/uv"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] &&
            [ "$("$candidate" --version 2>/dev/null | cut -d' ' -f2)" = "$UV_VERSION" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if ! uv=$(find_uv); then
    echo "getting uv $UV_VERSION into $data_dir/app/uv"
    mkdir -p "$data_dir/app/uv"
    if command -v curl >/dev/null 2>&1; then
        curl -LsSf "https://astral.sh/uv/$UV_VERSION/install.sh" |
            env UV_INSTALL_DIR="$data_dir/app/uv" UV_NO_MODIFY_PATH=1 sh
    else
        python3 -m pip install --quiet --target "$data_dir/app/uv/pkg" "uv==$UV_VERSION"
        ln -sf "$data_dir/app/uv/pkg/bin/uv" "$data_dir/app/uv/uv"
    fi
    uv=$(find_uv) || { echo "could not get uv $UV_VERSION; see docs/install.md" >&2; exit 1; }
fi

if [ -n "$created" ]; then set -- --created-root "$created" "$@"; fi
PYTHONPATH="$source_dir" exec "$uv" run --no-project --no-config --no-cache --python 3.11 -- \
    python -m xdub.setup.environment --uv "$uv" "$@"
