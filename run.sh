#!/usr/bin/env bash
# Set up everything this project needs and run it.
#   ./run.sh main [ARGS]   the main job on the built-in default data
#   ./run.sh test [ARGS]   lint, then the test suite (CI profile; ARGS go to pytest)
# System packages come from apt (installed only where missing), Python packages go
# into .venv; both steps are skipped when already done.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(python3-venv python3-dev g++ make iverilog verilator ghdl yosys
              nextpnr-ice40 fpga-icestorm)

ensure_system_packages() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "run.sh: installing system packages: ${missing[*]}" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "run.sh: need root or sudo to apt-get install ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
    local stamp=.venv/.installed-$(cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
    [ -f "$stamp" ] && return 0
    echo "run.sh: creating .venv and installing the project" >&2
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]' tox
    rm -f .venv/.installed-*
    touch "$stamp"
}

# One BLAS thread: the kernels are small and a loaded 2-core machine makes threaded BLAS
# many times slower (measured).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    main) ensure_system_packages; ensure_venv; exec .venv/bin/lstm-chiplet detect "$@" ;;
    test) ensure_system_packages; ensure_venv; exec .venv/bin/tox -e lint,py -- "$@" ;;
    *) echo "usage: ./run.sh main|test [ARGS]" >&2; exit 2 ;;
esac
