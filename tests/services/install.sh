#!/bin/sh
# Installs the system packages the integration tests start (Debian 12).  Idempotent:
# nothing is installed when every command is already present.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1; }
have podman        || need="$need podman"
have runc          || need="$need runc"
[ -x /bin/busybox ] || need="$need busybox-static"
have influxd       || need="$need influxdb"
have rsyslogd      || need="$need rsyslog"
have socat         || need="$need socat"
have nats-server   || need="$need nats-server"
have logrotate     || need="$need logrotate"
have nc            || need="$need netcat-openbsd"
have logger        || need="$need bsdutils"
have ip            || need="$need iproute2"
have iptables      || need="$need iptables"
have openssl       || need="$need openssl"
have setpriv       || need="$need util-linux"
have debootstrap    || need="$need debootstrap"  # make image: the Debian 12 base
have podman-compose || need="$need podman-compose"  # deploy/compose.yml
have chromium      || need="$need chromium"  # the /ui page tests (headless)
if [ -z "$need" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "tests/services/install.sh: missing:$need (run as root, or install them; tests needing them will skip)" >&2
  exit 0
fi
echo "installing:$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# rsyslog must not start as the host's syslog daemon here; policy-rc.d keeps services down
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
# with recommends, as ENVIRONMENT.md's recipe: podman's network stack and helpers come with them
apt-get install -y -qq $need >/dev/null
rm -f /usr/sbin/policy-rc.d
