#!/usr/bin/env bash
# Idempotent set-up of what the Node.js and browser examples (examples/node,
# examples/web) and their test (tests/web_deploy.rs) need:
#   - Node.js >= 18 and npm: Debian's `nodejs` and `npm` packages when `node` is missing
#     or too old (a newer Node already installed is kept);
#   - a Chromium for the headless page test: Debian's `chromium` package when no
#     chromium executable is found (Playwright downloads no browser of its own);
#   - the examples' npm packages, exactly as their package-lock.json pins them
#     (`npm ci`, install scripts off: nothing is fetched beyond the npm registry).
# When everything is in place it returns in well under a second: an example's
# node_modules is reinstalled only when its package-lock.json changed.
#
# `--npm-only` (what `make install` runs: the installed page needs the npm files, not
# a browser) skips Chromium.
#
# Environment: CHROMIUM=/path/to/chromium uses that browser instead (nothing is
# installed for it); NPM_CONFIG_REGISTRY and the other npm settings apply as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
npm_only=0
[[ "${1:-}" == "--npm-only" ]] && npm_only=1

NODE_MIN_MAJOR=18
EXAMPLES=(examples/node examples/web)

say() { echo "setup-web: $*" >&2; }

# Runs a command as root (directly, or through sudo without a password prompt).
as_root() {
  if [[ $(id -u) == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    say "cannot install Debian packages ($*): not root and no password-less sudo;"
    say "install them yourself (apt-get install $*), then run this script again"
    exit 1
  fi
}

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    say "no apt-get on this machine: install $* with its package manager, then run this script again"
    exit 1
  fi
  say "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may hold stale or no package lists: update once, then retry.
  if ! as_root apt-get install -y -q --no-install-recommends "$@"; then
    if [[ $apt_updated == 0 ]]; then
      as_root apt-get update -q
      apt_updated=1
    fi
    as_root apt-get install -y -q --no-install-recommends "$@"
  fi
}

node_major() {
  node -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0
}

# 1. Node.js and npm.
if ! command -v node >/dev/null || (( $(node_major) < NODE_MIN_MAJOR )); then
  apt_install nodejs npm
  if (( $(node_major) < NODE_MIN_MAJOR )); then
    say "Node.js $(node --version 2>/dev/null || echo missing) is older than $NODE_MIN_MAJOR: install a newer one"
    exit 1
  fi
elif ! command -v npm >/dev/null; then
  apt_install npm
fi

# 2. Chromium (the same search as tests/web_deploy.rs makes).
find_chromium() {
  if [[ -n "${CHROMIUM:-}" ]]; then
    [[ -x "$CHROMIUM" ]] && echo "$CHROMIUM"
    return
  fi
  for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null; then
      command -v "$c"
      return
    fi
  done
}
if [[ $npm_only == 0 && -z "$(find_chromium)" ]]; then
  if [[ -n "${CHROMIUM:-}" ]]; then
    say "CHROMIUM=$CHROMIUM is not an executable file"
    exit 1
  fi
  apt_install chromium
  [[ -n "$(find_chromium)" ]] || { say "Debian's chromium package is installed but no chromium executable is on PATH"; exit 1; }
fi

# 3. The examples' npm packages, as their lockfiles pin them.
for dir in "${EXAMPLES[@]}"; do
  lock="$dir/package-lock.json"
  stamp="$dir/node_modules/.densenas-lock.sha256"
  want=$(sha256sum "$lock" "$dir/package.json" | sha256sum | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    continue
  fi
  say "installing $dir's npm packages (npm ci, from $lock)"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
done
