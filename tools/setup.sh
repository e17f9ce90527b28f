#!/usr/bin/env bash
# Set up a Winstackers development machine (Debian): the services the
# functional tests and the demo use (MariaDB, RabbitMQ), installed from
# Debian's packages where missing and started where not running; the tools
# the compute driver's tests run (Samba's smbd, genisoimage), installed
# where missing; and a virtualenv in .venv with Winstackers and its test
# tools.
# Idempotent: running it again changes nothing that is already in place.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${WINSTACKERS_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

log() { printf '[setup] %s\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    local port=$1 name=$2
    for _ in $(seq 1 60); do
        port_open "$port" && return 0
        sleep 1
    done
    log "ERROR: $name did not start listening on 127.0.0.1:$port within 60 s"
    return 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    if ! command -v apt-get >/dev/null; then
        log "ERROR: $* missing and this is not a Debian machine: install them by hand"
        exit 1
    fi
    log "installing Debian packages: $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_mariadb() {
    if port_open 3306; then log "MariaDB: running"; return; fi
    command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
    log "MariaDB: starting"
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_port 3306 MariaDB
}

ensure_rabbitmq() {
    if port_open 5672; then log "RabbitMQ: running"; return; fi
    command -v rabbitmq-server >/dev/null || [ -x /usr/sbin/rabbitmq-server ] \
        || apt_install rabbitmq-server
    log "RabbitMQ: starting"
    as_root rabbitmq-server -detached
    wait_port 5672 RabbitMQ
}

# The compute driver's tests start a private smbd (the SMB file channel,
# tests/nova/test_disks.py: it is never started as a system service here)
# and build config drives with nova's ConfigDriveBuilder, which runs
# genisoimage.
ensure_compute_tools() {
    local missing=()
    command -v smbd >/dev/null || [ -x /usr/sbin/smbd ] || missing+=(samba)
    command -v genisoimage >/dev/null || missing+=(genisoimage)
    if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

# uwsgi (the neutron extra: it serves neutron's API in the functional tests)
# is built from source by pip: it needs a C compiler and Python's headers.
ensure_build_tools() {
    local headers
    headers="$("$VENV/bin/python" -c 'import os, sysconfig
print(os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))')"
    if command -v cc >/dev/null && [ "$headers" = True ]; then return; fi
    apt_install build-essential python3-dev
}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating virtualenv $VENV"
        "$PYTHON" -m venv "$VENV" || { apt_install python3-venv; "$PYTHON" -m venv "$VENV"; }
    fi
    # Reinstall only when the project's metadata or the extras installed
    # changed since the last run.
    local stamp="$VENV/.winstackers-installed"
    local extras="test,neutron,nova,docs"
    local wanted
    wanted="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1) [$extras]"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
        log "virtualenv $VENV: up to date"
        return
    fi
    log "installing winstackers and its test and docs tools into $VENV"
    ensure_build_tools
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT[$extras]"
    echo "$wanted" > "$stamp"
}

if [ "${WINSTACKERS_SKIP_SERVICES:-0}" != 1 ]; then
    ensure_mariadb
    ensure_rabbitmq
fi
ensure_compute_tools
ensure_venv
log "ready"
