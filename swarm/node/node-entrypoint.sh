#!/bin/sh
# Starts the node's Docker engine with the arguments given to the container.
set -eu

# A stale pid file from a previous run of this node would stop dockerd from starting.
rm -f /var/run/docker.pid /run/docker/containerd/containerd.pid

# The official docker:dind image: its entry point prepares the kernel's iptables flavour and
# runs dockerd under docker-init; given "dockerd" first it adds no listener of its own.
if command -v dockerd-entrypoint.sh >/dev/null 2>&1; then
    exec dockerd-entrypoint.sh dockerd "$@"
fi
exec dockerd "$@"
