#!/usr/bin/env bash
# Installs edge-agent as a systemd service on Debian, Ubuntu, Raspberry Pi OS or JetPack.
#
#   git clone ... edge-agent && cd edge-agent && npm ci && npm run build
#   sudo scripts/install.sh [--camera v4l2:/dev/video0] [--broker mqtt://host:1883] [--device-id ID] [--group NAME]
#
# Lays out:  /opt/edge-agent (the app, production dependencies only, read-only to the service)
#            /etc/edge-agent/agent.config.json (written once from the flags; never overwritten)
#            /var/lib/edge-agent (data: database, derived variants)
#            /etc/systemd/system/edge-agent.service (enabled), /usr/local/bin/edge-agent
# and the system user edge-agent in video (and gpio, i2c, render where they exist).
#
# Options:
#   --root DIR       lay the files out under DIR (tests, images); the system changes (apt-get,
#                    useradd/usermod, npm, systemctl) are then printed, never made on this host
#   --dry-run        the same, said explicitly (needs --root)
#   --user NAME      service user (default edge-agent)
#   --uninstall      remove the service, the app and the command; keep config and data (and the user)
#   --purge          with --uninstall: also remove /etc/edge-agent, /var/lib/edge-agent and the user
#   --camera SRC --broker URL --device-id ID --group NAME (repeatable): written into a new config
#   --lean auto|on|off  the lean runtime (--lite-mode on ExecStart: V8 without its optimising compilers,
#                    6-12 MB less; docs/memory.md). auto (default): on for a board with 1 GiB of RAM or
#                    less, off otherwise.
# Safe to run twice: a second run changes nothing. See docs/install.md.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=""
DRY=0
UNINSTALL=0
PURGE=0
USER_NAME=edge-agent
CAMERA=""
BROKER=""
DEVICE_ID=""
GROUPS_JSON=()
LEAN=auto
die() { echo "install.sh: $*" >&2; exit 1; }
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --root) need_value "$@"; ROOT=$(realpath -m "$2"); shift ;;
    --user) need_value "$@"; USER_NAME=$2; shift ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    --camera) need_value "$@"; CAMERA=$2; shift ;;
    --broker) need_value "$@"; BROKER=$2; shift ;;
    --device-id) need_value "$@"; DEVICE_ID=$2; shift ;;
    --group) need_value "$@"; GROUPS_JSON+=("$2"); shift ;;
    --lean) need_value "$@"; LEAN=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[ "$PURGE" -eq 1 ] && [ "$UNINSTALL" -eq 0 ] && die "--purge goes with --uninstall"
case "$LEAN" in auto | on | off) ;; *) die "--lean must be auto, on or off, got \"$LEAN\"" ;; esac
[ "$ROOT" = "/" ] && ROOT=""
[ "$DRY" -eq 1 ] && [ -z "$ROOT" ] &&
  die "--dry-run lays the files out under --root DIR (give one, e.g. --root /tmp/edge-agent-root) and prints the system changes"
# Under --root, commands that would change this host (apt-get, useradd, systemctl) are printed only.
[ -n "$ROOT" ] && DRY=1

OPT=$ROOT/opt/edge-agent
ETC=$ROOT/etc/edge-agent
VAR=$ROOT/var/lib/edge-agent
UNIT=$ROOT/etc/systemd/system/edge-agent.service
BIN=$ROOT/usr/local/bin/edge-agent
CONFIG=$ETC/agent.config.json
CHANGED=0

say() { echo "  $*"; }
# A command that changes the system outside the files we lay out: printed under --dry-run.
sys() {
  if [ "$DRY" -eq 1 ]; then echo "  [dry-run] $*"; else say "+ $*"; "$@"; CHANGED=1; fi
}
have_user() { id -u "$USER_NAME" >/dev/null 2>&1; }
# owner: the service user when it exists (always, outside --dry-run); under a dry run before the
# user exists the files keep the installing user and the plan says who should own them.
own() { # own USER:GROUP MODE PATH
  chmod "$2" "$3"
  local user=${1%%:*}
  if [ "$(id -u)" -eq 0 ] && id -u "$user" >/dev/null 2>&1; then
    chown "$user:$(id -gn "$user")" "$3"
  elif [ "$DRY" -eq 1 ]; then
    echo "  [dry-run] chown $1 $3"
  fi
}
ensure_dir() { # ensure_dir OWNER MODE PATH
  if [ ! -d "$3" ]; then mkdir -p "$3"; say "created $3 ($1 $2)"; CHANGED=1; fi
  own "$1" "$2" "$3"
}
# install_file OWNER MODE SRC DEST: copies only when the content differs.
install_file() {
  if [ -f "$4" ] && cmp -s "$3" "$4"; then own "$1" "$2" "$4"; return; fi
  mkdir -p "$(dirname "$4")"
  cp "$3" "$4.tmp.$$" && mv -f "$4.tmp.$$" "$4"
  own "$1" "$2" "$4"
  say "installed $4 ($1 $2)"
  CHANGED=1
}

# ---------------------------------------------------------------- uninstall
if [ "$UNINSTALL" -eq 1 ]; then
  echo "edge-agent: uninstalling${ROOT:+ under $ROOT}"
  if [ -z "$ROOT" ] && command -v systemctl >/dev/null && [ -f "$UNIT" ]; then
    sys systemctl disable --now edge-agent.service
  fi
  for p in "$UNIT" "$BIN" "$OPT"; do
    if [ -e "$p" ] || [ -L "$p" ]; then rm -rf "$p"; say "removed $p"; fi
  done
  rm -rf "$ROOT/etc/systemd/system/edge-agent.service.d"
  [ -z "$ROOT" ] && command -v systemctl >/dev/null && sys systemctl daemon-reload
  if [ "$PURGE" -eq 1 ]; then
    for p in "$ETC" "$VAR"; do
      if [ -e "$p" ]; then rm -rf "$p"; say "purged $p"; fi
    done
    if [ -z "$ROOT" ] && have_user; then sys userdel "$USER_NAME"; fi
  else
    say "kept $ETC and $VAR (config and data; --uninstall --purge removes them)"
  fi
  exit 0
fi

# ---------------------------------------------------------------- checks
echo "edge-agent: installing${ROOT:+ under $ROOT}$([ "$DRY" -eq 1 ] && echo ' (dry run)')"
. /etc/os-release 2>/dev/null || true
case " ${ID:-} ${ID_LIKE:-} " in
  *" debian "* | *" ubuntu "* | *" raspbian "*) say "OS: ${PRETTY_NAME:-$ID}" ;;
  *) echo "  warning: ${PRETTY_NAME:-unknown OS} is not Debian-based; apt-get steps may fail" ;;
esac
ARCH=$(uname -m)
case "$ARCH" in
  x86_64 | aarch64) say "architecture: $ARCH" ;;
  armv7l | armv6l) die "architecture $ARCH: onnxruntime ships 64-bit builds only; install a 64-bit OS (Raspberry Pi OS 64-bit on a Pi 3/4/5/Zero 2 W)" ;;
  *) die "architecture $ARCH is not supported (x86_64 or aarch64)" ;;
esac
NODE_HOW="install Node.js 20 or newer: https://nodejs.org/en/download (Debian/Ubuntu: NodeSource's nodejs package; Jetson: the same, arm64)"
command -v node >/dev/null || die "node not found; $NODE_HOW"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || die "node $(node --version) is too old; $NODE_HOW"
say "node: $(node --version) ($(command -v node))"
# The lean runtime (docs/memory.md): on by default where memory is short.
MEM_KB=$(awk '/^MemTotal:/ {print $2}' "${EDGE_AGENT_MEMINFO:-/proc/meminfo}" 2>/dev/null || echo 0)
if [ "$LEAN" = auto ]; then
  if [ "${MEM_KB:-0}" -gt 0 ] && [ "$MEM_KB" -le 1048576 ]; then LEAN=on; else LEAN=off; fi
  say "lean runtime: $LEAN (auto: $((${MEM_KB:-0} / 1024)) MB of RAM, Node.js $NODE_MAJOR; on at 1 GiB or less; --lean on|off to choose)"
else
  say "lean runtime: $LEAN (--lean)"
fi
[ -f "$SRC/dist/cli.js" ] || die "$SRC/dist/cli.js missing: run 'npm ci && npm run build' in $SRC first"

# ---------------------------------------------------------------- packages and user
missing=()
for p in ffmpeg; do command -v "$p" >/dev/null || missing+=("$p"); done
[ ${#missing[@]} -gt 0 ] && sys apt-get install -y --no-install-recommends "${missing[@]}"
command -v v4l2-ctl >/dev/null || say "optional: apt-get install v4l-utils (v4l2-ctl lists camera formats)"

USER_GROUPS=()
for g in video gpio i2c render; do getent group "$g" >/dev/null && USER_GROUPS+=("$g"); done
if ! have_user; then
  sys useradd --system --user-group --home-dir /var/lib/edge-agent --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
fi
for g in "${USER_GROUPS[@]}"; do
  if ! have_user || ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$g"; then sys usermod -aG "$g" "$USER_NAME"; fi
done
OWNER="$USER_NAME:$(id -gn "$USER_NAME" 2>/dev/null || echo "$USER_NAME")"

# ---------------------------------------------------------------- the app
ensure_dir root:root 0755 "$OPT"
STAMP=$( (cd "$SRC" && find dist models samples package.json package-lock.json .npmrc agent.config.json agent.config.schema.json -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-32)
if [ "$(cat "$OPT/.install-stamp" 2>/dev/null)" != "$STAMP" ]; then
  rm -rf "$OPT/dist" "$OPT/models" "$OPT/samples"
  cp -r "$SRC/dist" "$SRC/models" "$SRC/samples" "$OPT/"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$SRC/.npmrc" "$SRC/agent.config.json" "$SRC/agent.config.schema.json" "$OPT/"
  chmod -R u=rwX,go=rX "$OPT"
  say "installed the app in $OPT"
  # Production dependencies only. From this checkout's node_modules (native addons already built
  # for this machine, no network) pruned of dev dependencies, else from the registry.
  if [ -d "$SRC/node_modules" ]; then
    if [ "$DRY" -eq 1 ]; then
      echo "  [dry-run] cp -a $SRC/node_modules $OPT/ && npm prune --omit=dev --prefix $OPT"
    else
      rm -rf "$OPT/node_modules" && cp -a "$SRC/node_modules" "$OPT/"
      (cd "$OPT" && npm prune --omit=dev --no-audit --no-fund --loglevel=error)
      say "production dependencies in $OPT/node_modules (npm prune --omit=dev)"
    fi
  else
    sys npm ci --omit=dev --no-audit --no-fund --prefix "$OPT"
  fi
  echo "$STAMP" >"$OPT/.install-stamp"
  CHANGED=1
else
  say "app in $OPT is up to date"
fi
TMPF=$(mktemp)
trap 'rm -f "$TMPF"' EXIT
printf '#!/bin/sh\n# edge-agent command (scripts/install.sh): the installed app with the system config.\nexport EDGE_AGENT_CONFIG="${EDGE_AGENT_CONFIG:-/etc/edge-agent/agent.config.json}"\nexport EDGE_AGENT_DATA_DIR="${EDGE_AGENT_DATA_DIR:-/var/lib/edge-agent}"\nexec node /opt/edge-agent/dist/cli.js "$@"\n' >"$TMPF"
install_file root:root 0755 "$TMPF" "$BIN"

# ---------------------------------------------------------------- config and data
ensure_dir "$OWNER" 0750 "$ETC"
ensure_dir "$OWNER" 0750 "$VAR"
if [ -e "$CONFIG" ]; then
  say "kept the existing $CONFIG (never overwritten)"
  if [ -n "$CAMERA$BROKER$DEVICE_ID${GROUPS_JSON[*]:-}" ]; then
    echo "  note: --camera/--broker/--device-id/--group apply to a new config only; edit $CONFIG or use 'edge-agent fleet set-config'"
  fi
else
  # From the shipped config: bundled model and samples (resolved against /opt/edge-agent), the
  # data folder, and what the flags say. A camera when one is plugged in, else the sample photos.
  [ -z "$CAMERA" ] && [ -e "$ROOT/dev/video0" ] && CAMERA=v4l2:/dev/video0
  node - "$SRC/agent.config.json" "$CAMERA" "$BROKER" "$DEVICE_ID" "${GROUPS_JSON[@]}" >"$TMPF" <<'EOF'
const [file, camera, broker, deviceId, ...groups] = process.argv.slice(2);
const config = JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
config.$schema = '/opt/edge-agent/agent.config.schema.json';
config.dataDir = '/var/lib/edge-agent';
if (camera) config.camera = { ...config.camera, source: camera };
if (broker) config.mqtt = { ...config.mqtt, url: broker };
if (deviceId) config.deviceId = deviceId;
if (groups.length > 0) config.mqtt = { ...config.mqtt, groups };
process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
EOF
  install_file "$OWNER" 0640 "$TMPF" "$CONFIG"
  node "$SRC/dist/cli.js" config validate "$CONFIG" >/dev/null 2>"$TMPF.err" ||
    { echo "  warning: the new config does not validate yet:"; sed 's/^/    /' "$TMPF.err"; }
  rm -f "$TMPF.err"
fi

# ---------------------------------------------------------------- the service
# The unit with this machine's node (NodeSource: /usr/bin/node; ProtectHome hides a node under /home).
NODE_BIN=$(command -v node)
case "$NODE_BIN" in /home/* | /root/*) echo "  warning: $NODE_BIN is under a home folder, which the unit hides (ProtectHome): install Node.js system-wide" ;; esac
V8_ARGS=""
[ "$LEAN" = on ] && V8_ARGS=" --lite-mode"
# With the JIT on Node 24 and later, Maglev as the top tier (--no-turbofan): 3-5 MB less, the same CPU per
# frame (AGENT_JIT_NODE_ARGS in src/service/memory-env.ts; Node 20 and 22 have Maglev off).
[ "$LEAN" = off ] && [ "$NODE_MAJOR" -ge 24 ] && V8_ARGS=" --no-turbofan"
sed -e "s#^ExecStart=/usr/bin/node #ExecStart=$NODE_BIN #" \
  -e "/^ExecStart=/s# /opt/edge-agent/dist/cli.js #$V8_ARGS /opt/edge-agent/dist/cli.js #" \
  "$SRC/deploy/edge-agent.service" >"$TMPF"
install_file root:root 0644 "$TMPF" "$UNIT"
if [ -z "$ROOT" ]; then
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    if [ "$CHANGED" -eq 1 ]; then sys systemctl daemon-reload; fi
    systemctl is-enabled --quiet edge-agent.service 2>/dev/null || sys systemctl enable edge-agent.service
    if [ "$CHANGED" -eq 1 ] || ! systemctl is-active --quiet edge-agent.service; then
      sys systemctl restart edge-agent.service
    fi
  else
    echo "  systemd is not running here (a container?): start it with 'edge-agent run' or see docs/install.md (Docker)"
  fi
fi

PORT=$(node -e 'try{const c=require(process.argv[1]);console.log(c.http?.port??8080)}catch{console.log(8080)}' "$CONFIG" 2>/dev/null || echo 8080)
cat <<EOF
edge-agent: $([ "$CHANGED" -eq 1 ] && echo "installed" || echo "already installed, nothing changed")
Check it:
  systemctl status edge-agent        # active (running) once the first inference is done
  journalctl -u edge-agent -f        # its log
  edge-agent doctor                  # camera, ffmpeg, broker, clock, disk, memory, throttling, providers
  dashboard: http://127.0.0.1:$PORT/ (on the device; ssh -L $PORT:127.0.0.1:$PORT to reach it)
Config: $CONFIG (edit, then: systemctl restart edge-agent)
EOF
