#!/usr/bin/env bash
# Installs every Debian package the reentry project needs (Debian 12 / bookworm).
# Idempotent: if everything is installed already it touches neither apt nor the network.
set -euo pipefail

# Needed by the presets in CMakePresets.json and by tools/test.sh.
REQUIRED=(
  build-essential cmake ninja-build g++ git
  clang-14 libclang-rt-14-dev llvm-14 llvm lld-14   # llvm: /usr/bin/llvm-symbolizer
  libabsl-dev
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  afl++
  clang-format
  python3
  procps
)
# Needed by the tsan preset (and libfuzzer+TSan); installed whenever apt can provide them.
OPTIONAL=(clang-19 libclang-rt-19-dev lld-19)

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

has_candidate() {
  local cand
  cand="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')"
  [[ -n "$cand" && "$cand" != "(none)" ]]
}

missing_of() {
  local p
  for p in "$@"; do is_installed "$p" || printf '%s\n' "$p"; done
}

mapfile -t missing_req < <(missing_of "${REQUIRED[@]}")
mapfile -t missing_opt < <(missing_of "${OPTIONAL[@]}")

# An optional package missing with no apt candidate in the current lists is only worth an
# `apt-get update` when we have to update anyway for a required package.
want_opt=()
if ((${#missing_opt[@]})); then
  if ((${#missing_req[@]})); then
    want_opt=("${missing_opt[@]}")
  else
    for p in "${missing_opt[@]}"; do has_candidate "$p" && want_opt+=("$p"); done
  fi
fi

to_install=("${missing_req[@]}" "${want_opt[@]}")

if ((${#to_install[@]} == 0)); then
  note=""
  ((${#missing_opt[@]})) && note=" (optional, not available from apt: ${missing_opt[*]})"
  echo "setup.sh: all ${#REQUIRED[@]} required packages already installed${note}; nothing to do."
  exit 0
fi

if ((EUID != 0)); then
  echo "setup.sh: would install: ${to_install[*]}" >&2
  echo "setup.sh: ERROR: packages are missing and installing them needs root (try: sudo bash tools/setup.sh)." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y --no-install-recommends -o Dpkg::Use-Pty=0)

installed_now=()
# want_opt only holds packages with a candidate unless a required package is missing.
if ((${#missing_req[@]})); then
  echo "setup.sh: apt-get update"
  apt-get update -qq
fi

# Re-check optional packages against the fresh lists; drop the ones apt cannot provide.
opt_ok=()
opt_unavailable=()
for p in "${want_opt[@]}"; do
  if has_candidate "$p"; then opt_ok+=("$p"); else opt_unavailable+=("$p"); fi
done

pkgs=("${missing_req[@]}" "${opt_ok[@]}")
if ((${#pkgs[@]})); then
  echo "setup.sh: apt-get install ${pkgs[*]}"
  apt-get install "${APT_OPTS[@]}" "${pkgs[@]}"
  installed_now=("${pkgs[@]}")
fi

# Verify.
mapfile -t still_missing < <(missing_of "${REQUIRED[@]}")
if ((${#still_missing[@]})); then
  echo "setup.sh: ERROR: still missing after install: ${still_missing[*]}" >&2
  exit 1
fi

note=""
((${#opt_unavailable[@]})) && note="; optional, not available from apt: ${opt_unavailable[*]}"
echo "setup.sh: installed ${#installed_now[@]} package(s): ${installed_now[*]:-none}${note}."
