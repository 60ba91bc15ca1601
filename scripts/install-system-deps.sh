#!/usr/bin/env bash
# Installs the Debian packages edge-agent uses at run time and in tests: ffmpeg (camera sources),
# mosquitto (a real MQTT broker for the integration tests; the service is not enabled here) and
# chromium (the dashboard test drives it headless through playwright-core), the Vulkan loader
# with Mesa's drivers (libvulkan1 mesa-vulkan-drivers): onnxruntime's WebGPU provider then finds a
# Vulkan driver and its native warnings appear, so the tests check they stay out of our output —
# and prometheus (for `promtool check metrics` on /metrics; its service is not enabled here).
# Safe to run twice; does nothing when everything is present.
set -euo pipefail

packages=(ffmpeg mosquitto chromium libvulkan1 mesa-vulkan-drivers prometheus)
# socat: the watchdog test's stand-in for systemd's notify socket; systemd: systemd-notify, systemd-analyze verify.
packages+=(socat systemd)
# strace: the deploy crash test checks the install's syscall order (fsync, rename, folder fsync).
packages+=(strace)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present: ${packages[*]}"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian package starts a system broker on :1883; the tests start their own on free ports.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
  $SUDO systemctl disable --now mosquitto || true
fi
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $SUDO systemctl disable --now prometheus || true
fi
