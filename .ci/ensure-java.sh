#!/bin/sh
# Spark (the 'spark' extra, used by the tests) runs on Java 17 or newer. If `java -version`
# reports less, or no java at all, install Debian's OpenJDK 17 (CI runs as root on Debian).
set -eu
major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\.*\([0-9]*\).*/\1 \2/p' | head -n1 |
        awk '{ if ($1 == 1) print $2; else print $1 }')
if [ -n "${major:-}" ] && [ "$major" -ge 17 ]; then
    exit 0
fi
echo "Java 17+ not found (found: ${major:-none}); installing openjdk-17-jre-headless" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless
java -version
