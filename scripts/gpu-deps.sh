#!/usr/bin/env bash
# Downloads (does not install) the Debian 12 packages that building focalab needs besides
# LibTorch into .gpu-debs/, for a GPU machine that has CUDA, CMake, a compiler and Python torch but
# no package manager access: scripts/gpu-check.sh unpacks them into a private prefix there.
# About 15 MB. Run on a Debian 12 machine with apt access, in the repository.
#
#   scripts/gpu-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
  libyaml-cpp-dev libyaml-cpp0.7 libfmt-dev libfmt9
  libboost-program-options-dev libboost-program-options1.74-dev libboost-program-options1.74.0
  libboost1.74-dev libsqlite3-dev libsqlite3-0 sqlite3 libstb-dev libstb0
  libsimdjson-dev libsimdjson14 nlohmann-json3-dev libgtest-dev libgmock-dev googletest
)
mkdir -p .gpu-debs
cd .gpu-debs
rm -f ./*.deb
apt-get download "${packages[@]}"
du -sh .
