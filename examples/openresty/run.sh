#!/bin/sh
# Starts nginx on ./nginx.conf with this folder as its prefix (logs/ here),
# after writing the system's resolver into resolver.conf; extra arguments
# go to nginx (-s stop stops it). nginx stays in the foreground unless
# nginx.conf says otherwise: add `&` to run it in the background.
set -e
cd "$(dirname "$0")"
mkdir -p logs
if [ ! -f resolver.conf ] || [ /etc/resolv.conf -nt resolver.conf ]; then
  awk '$1 == "nameserver" { ns = $2; if (ns ~ /:/) ns = "[" ns "]"; print "resolver " ns " ipv6=off;"; exit }' \
    /etc/resolv.conf > resolver.conf
  [ -s resolver.conf ] || echo "run.sh: no nameserver in /etc/resolv.conf: names cannot be looked up" >&2
fi
exec nginx -p "$PWD/" -c nginx.conf -e logs/error.log -g 'daemon off;' "$@"
