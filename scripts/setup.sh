#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to run and test the project:
# Debian packages (servers started by the tests as plain processes, Chromium
# for page tests), a virtual environment, and MicroPython for Node.
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(mosquitto mosquitto-clients influxdb postgresql-15 chromium docker-compose nodejs npm caddy
              poppler-utils chrony)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Node may come from elsewhere than Debian (nvm, a base image): keep that one.
if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if ((${#missing[@]})); then
    echo "setup: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
stamp=.venv/.installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
    .venv/bin/pip install -q --upgrade pip
    # compat mode puts the repository on sys.path, so every top-level package
    # (protocol, gateway, api, simulator, ...) imports without reinstalling.
    .venv/bin/pip install -q -e '.[dev,bench]' --config-settings editable_mode=compat
    touch "$stamp"
fi

if [[ ! -d tools/mpy/node_modules/@micropython ]]; then
    (cd tools/mpy && npm ci --no-audit --no-fund --silent)
fi
echo "setup: ready"
