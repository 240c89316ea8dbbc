#!/usr/bin/env bash
# Installs the system libraries lrt builds against, when they are missing (Debian/Ubuntu).
# `Tools/setup.sh mpi` adds Open MPI, for `swift build --traits MPI` and mpirun.
set -euo pipefail
packages=(pkg-config libhdf5-dev libpng-dev libturbojpeg0-dev libopenblas-dev libdnnl-dev hdf5-tools)
if [ "${1:-}" = "mpi" ]; then packages+=(libopenmpi-dev openmpi-bin); fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
