#!/usr/bin/env bash
# Debian packages the tests need: GStreamer's RTSP server (a real camera on loopback), ffmpeg,
# Chromium (the web UI is tested in a real browser), nats-server and iproute2 (scale-out tests). Installs only what is missing; needs root.
set -euo pipefail
PKGS=(ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
      gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav gstreamer1.0-tools
      chromium fonts-dejavu-core
      nats-server iproute2)  # scale-out: local JetStream clusters, network namespaces (fault tests)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
