#!/usr/bin/env bash
# Installs the Debian packages focalab needs to build, test and benchmark, skipping the ones
# already present. Non-interactive; runs `apt-get update` at most once. Needs root (or sudo).
#
#   scripts/install-deps.sh              build + test dependencies
#   scripts/install-deps.sh --no-python  skip the Python packages (parity tests and the
#                                        real-photograph training test then skip)
#   scripts/install-deps.sh --build-only only what building and running focalab needs
set -euo pipefail

want_python=1
want_test=1
for arg in "$@"; do
  case "$arg" in
    --no-python) want_python=0 ;;
    --build-only) want_python=0; want_test=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown argument '$arg' (allowed: --no-python, --build-only, --help)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake pkg-config git
  libtorch-dev libyaml-cpp-dev libsqlite3-dev sqlite3 libfmt-dev libboost-program-options-dev
  libstb-dev libsimdjson-dev nlohmann-json3-dev libcpp-httplib-dev libcairo2-dev
  # Debian's LibTorch calls the system BLAS (libblas.so.3): OpenBLAS in place of the reference
  # BLAS makes a one-thread training iteration of the CPU presets 10% faster (the 1x1
  # convolutions LibTorch runs through BLAS on one thread; docs/BENCHMARKS.md)
  libopenblas0-openmp
  googletest libgtest-dev
  fonts-dejavu-core
)
if [[ $want_test == 1 ]]; then
  # a one-node Slurm for the cluster test (tests/cli/slurm_test.sh)
  packages+=(slurmctld slurmd slurm-client munge)
  # pdflatex and booktabs: `report --format latex` is compiled in a test
  packages+=(texlive-latex-base texlive-latex-recommended)
  # pdftoppm renders the PDF figures in a test (tests/reports/report_format_test.cpp)
  packages+=(poppler-utils)
  # `focalab serve` is tested in a headless browser (tests/cli/serve_test.sh), with curl beside
  packages+=(chromium curl)
fi
if [[ $want_python == 1 ]]; then
  # python3-skimage: its sample photographs are the real-photo dataset of the COCO training test
  packages+=(python3 python3-torch python3-torchvision python3-numpy python3-pil python3-skimage)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present" >&2
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
