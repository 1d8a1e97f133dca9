#!/bin/sh
# zitui @VERSION@, one file: a shell header and a gzip'd tar of the one-folder build.
# The first start unpacks the folder into the cache directory named after this build
# (${XDG_CACHE_HOME:-$HOME/.cache}/zitui/@BUILD@); every start then runs the program
# from there, so no start pays for unpacking again. docs/operations.md § The binary.
set -eu
cache="${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/zitui"
build="$cache/@BUILD@"
if [ ! -x "$build/zitui" ]; then
    umask 077
    if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
        echo "zitui: cannot write the cache directory $cache;" \
            "set XDG_CACHE_HOME to a writable directory" >&2
        exit 1
    fi
    unpacking=$(mktemp -d "$cache/.unpacking-XXXXXXXX")
    if ! tail -c +@OFFSET@ "$0" | tar -xzf - --no-same-owner --no-same-permissions -C "$unpacking"; then
        rm -rf "$unpacking"
        echo "zitui: cannot unpack $0 into $cache" >&2
        exit 1
    fi
    # A rename is atomic: the build's folder is complete or absent. When another start
    # renamed its copy first, this one is dropped.
    if mv -T "$unpacking" "$build" 2>/dev/null; then
        # Keep this build and the one before it (a process of the old version may still
        # run from its folder), and remove older ones.
        ls -1t "$cache" | grep -vxF "@BUILD@" | tail -n +2 | while IFS= read -r old; do
            rm -rf "${cache:?}/$old"
        done
    else
        rm -rf "$unpacking"
    fi
fi
exec "$build/zitui" "$@"
