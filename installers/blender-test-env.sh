#!/usr/bin/env bash
# Create the Blender test environments: .venv-bpy42 (bpy 4.2 LTS, the oldest Blender the
# extension supports; PyPI's 4.2 is built without Audaspace, so it has no sound strips and the
# tests adapt, see docs/blender.md), .venv-bpy45 (bpy 4.5 LTS) and .venv-bpy50 (bpy 5.0),
# Blender as a Python module from PyPI on Python 3.11. bpy pins its own numpy, so each version
# gets its own venv. The Blender tests (tests/plugins/blender) launch these venvs' python.
# Idempotent: a venv whose bpy already has the wanted version is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}

make_env() {  # make_env DIR BPY_VERSION
    local dir=$1 version=$2
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import bpy, sys
sys.exit(0 if bpy.app.version_string.startswith('$version'.rsplit('.', 1)[0]) else 1)" \
        >/dev/null 2>&1; then
        echo "$dir: bpy $version already there"
        return
    fi
    "$python" -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "bpy==$version"
    echo "$dir: $("$dir/bin/python" -c 'import bpy; print("bpy", bpy.app.version_string)')"
}

make_env .venv-bpy42 4.2.23
make_env .venv-bpy45 4.5.15
make_env .venv-bpy50 5.0.1
