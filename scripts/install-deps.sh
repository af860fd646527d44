#!/usr/bin/env bash
# Installs from Debian what the tests and the benchmark need, when missing.
# Required (the run fails without them): gcc, make, g++, python3 (node-gyp),
#   busybox-static, strace, git, time (/usr/bin/time: the accounting test),
#   iproute2 + curl + nsenter (network tests, sandbox mode).
# Optional bench peers (a failed install is reported, never fatal): runsc, proot,
#   sqlite3.
# Optional OCI engines for test/oci (their tests are skipped without them): runc,
#   containerd (with ctr), docker.io (dockerd), podman (with conmon).
# Optional test tools (their tests are skipped without them): trinity (the syscall
#   fuzzer run inside the sandbox by test/fuzz); tcpdump (reads --pcap's file back).
# Safe to re-run: each package is checked with dpkg -s / command -v first, and
# apt-get update runs at most once, only when something is missing.
set -uo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO=""; fi
fi
export DEBIAN_FRONTEND=noninteractive

updated=0
apt_update_once() {
  if [ "$updated" = 0 ]; then
    updated=1
    # A registry that is briefly unreachable (DNS EAI_AGAIN) is retried, not fatal at once.
    local try
    for try in 1 2 3 4; do
      $SUDO apt-get update -qq >/dev/null 2>&1 && return 0
      echo "install-deps: apt-get update failed (try $try)" >&2
      sleep $((try * 15))
    done
  fi
}

have_pkg() { dpkg -s "$1" >/dev/null 2>&1; }

# want PACKAGE COMMAND required|optional
failed_required=0
want() {
  local pkg="$1" cmd="$2" kind="$3"
  if command -v "$cmd" >/dev/null 2>&1 || have_pkg "$pkg"; then
    return 0
  fi
  apt_update_once
  echo "install-deps: installing $pkg" >&2
  local try
  for try in 1 2 3; do
    if $SUDO apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1; then
      return 0
    fi
    [ "$kind" = required ] || break
    sleep $((try * 15))
  done
  if [ "$kind" = required ]; then
    echo "install-deps: could not install required package $pkg" >&2
    failed_required=1
  else
    echo "install-deps: could not install optional package $pkg (its benchmark rows will show n/a)" >&2
  fi
}

want gcc            gcc      required
want g++            g++      required
want make           make     required
want python3        python3  required
want busybox-static busybox  required
want strace         strace   required
want git            git      required
want time           /usr/bin/time required
want iproute2       ip       required
want curl           curl     required
want util-linux     nsenter  required
want runsc          runsc    optional
want proot          proot    optional
want sqlite3        sqlite3  optional
want runc           runc       optional
want containerd     containerd optional
want docker.io      dockerd    optional
want podman         podman     optional
want trinity        trinity    optional
# Real programs of the compatibility tests (their tests skip without them).
want gdb            gdb        optional
want openjdk-17-jre-headless java optional
want postgresql     /usr/lib/postgresql/15/bin/initdb optional
want bubblewrap     bwrap      optional
# --pcap's test reads the capture back with tcpdump when it is there (test/net/cli-net).
want tcpdump        tcpdump    optional

# busybox (dynamic) may satisfy `command -v busybox`; the tests need a static one
# only when the dynamic one is absent, so this is enough.
exit "$failed_required"
