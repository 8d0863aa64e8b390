#!/bin/sh
# The build stage of deploy/Containerfile runs this after qframe's venv is made: what qframe
# never uses at run time goes, and the final stage copies what is left into an empty image (one
# layer, so nothing removed here still lies in a layer under it).  Kept: Python and the libraries
# its modules and qframe's wheels link, every text encoding (the collectors' `encoding` option),
# tzdata (zoneinfo), the CA certificates, bash, dash and coreutils/grep/sed/findutils/tar/gzip for
# `exec`, and dpkg with its database (image scanners read it; it lists only what is left).
set -eu
export DEBIAN_FRONTEND=noninteractive

# the package manager, logins and accounts (qframe's user is made already), disks and mounts,
# perl (only maintainer scripts and debconf use it), NIS and Kerberos (only Python's nis module
# links them), the wheels `python3 -m venv` installed pip from
gone="apt libapt-pkg6.0 gpgv debian-archive-keyring libgnutls30 libp11-kit0 libtasn1-6
  libnettle8 libhogweed6 libidn2-0 libunistring2 libgcrypt20 libgpg-error0 libxxhash0
  libseccomp2 libsystemd0 liblz4-1 libudev1
  adduser passwd login libpam-modules libpam-modules-bin libpam-runtime libpam0g libaudit1
  libaudit-common libcap-ng0 libsemanage2 libsemanage-common libsepol2 libcap2
  util-linux util-linux-extra mount libmount1 libblkid1 libsmartcols1 libfdisk1
  bsdutils e2fsprogs libext2fs2 libss2 logsave sysvinit-utils
  ncurses-bin libnsl2 libtirpc3 libtirpc-common libgssapi-krb5-2 libkrb5-3
  libk5crypto3 libkrb5support0 libkeyutils1
  python3-venv python3.11-venv python3-pip-whl python3-setuptools-whl python3-distutils
  python3-lib2to3"
purge() {  # the packages of "$@" that are installed
  # shellcheck disable=SC2046
  dpkg --purge --force-remove-essential --force-depends $(dpkg-query -W \
    -f '${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null | awk '$1 == "ii" {print $2}') \
    >/tmp/dpkg.log 2>&1 || { grep -v warning /tmp/dpkg.log >&2; exit 1; }
}
# shellcheck disable=SC2086
purge $gone
purge init-system-helpers  # then what their scripts use: update-rc.d, debconf, perl
purge debconf perl-base
rm -f /tmp/dpkg.log

# files nothing uses at run time: documentation, translations, caches and lists, logs, the
# leap-second time zones (right/), glibc's
# iconv modules (Python has its own codecs), Python's tests, IDLE, Tk, pydoc's data, lib2to3,
# ensurepip and the nis module (NIS; its libraries went above)
rm -rf /usr/share/doc/* /usr/share/man /usr/share/info /usr/share/locale /usr/share/lintian \
  /usr/share/bash-completion /usr/share/zoneinfo/right /var/cache/debconf /var/cache/apt /var/lib/apt /var/log/* \
  /var/cache/ldconfig/aux-cache /usr/lib/x86_64-linux-gnu/gconv /usr/lib/*/gconv \
  /usr/lib/python3.11/test /usr/lib/python3.11/idlelib /usr/lib/python3.11/tkinter \
  /usr/lib/python3.11/turtledemo /usr/lib/python3.11/pydoc_data /usr/lib/python3.11/ensurepip \
  /usr/lib/python3.11/lib2to3 /usr/lib/python3.11/lib-dynload/nis.cpython-311-*.so \
  /var/lib/dpkg/*-old /root/.cache /tmp/* /var/tmp/*
find /usr/lib/python3.11 -depth -name __pycache__ -type d -empty -delete

# nothing left may miss a library it links (what ldd does; ldd itself is a bash script)
missing=$(find /usr/bin /usr/sbin /usr/lib /opt -type f \( -perm -u+x -o -name '*.so*' \) \
  -exec sh -c 'for f; do /lib64/ld-linux-x86-64.so.2 --list "$f" 2>/dev/null | grep -q "not found" && echo "$f"; done; true' sh {} +)
if [ -n "$missing" ]; then
  echo "slim.sh: a library is missing for:" $missing >&2
  exit 1
fi
