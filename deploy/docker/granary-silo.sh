#!/bin/sh
# Starts `granary silo` from environment variables: the entry point of the silo containers of
# docker-compose.yml and kubernetes/granary.yaml (installed as /usr/local/bin/granary-silo).
# Extra arguments are passed on to `granary silo`.
#
#   GRANARY_CLUSTER        redis://HOST:6379 (required)
#   GRANARY_CLUSTER_ID     cluster name, the namespace of every key in Redis (default granary)
#   GRANARY_NAME           silo name shown in `granary cluster status` (default: the host name)
#   GRANARY_HOST           address other silos reach this one at (default: the first address of
#                          `hostname -i`, right on a bridge network or a pod; set it with host networking)
#   GRANARY_PORT           Orleans silo-to-silo port (default 11111)
#   GRANARY_CLIENT_PORT    Orleans client port: granary deploy, cluster status (default 30000)
#   GRANARY_DEVICES        cpu:0 or cuda:0,...,cuda:7 (default cpu:0)
#   GRANARY_GATEWAY        1 = also serve the OpenAI API (default 0)
#   GRANARY_GATEWAY_PORT   gateway port (default 8000), listening on 0.0.0.0
#   GRANARY_CLUSTER_CERTIFICATE (the cluster's PFX file; mutual TLS), GRANARY_CLUSTER_CERTIFICATE_PASSWORD,
#   GRANARY_API_KEY and GRANARY_Cluster__NAME settings (RankPortBase, ProbeTimeout...) are read by granary itself.
# `granary-silo --healthcheck` is the container health check.
set -eu

host=${GRANARY_HOST:-$(hostname -i | awk '{print $1}')}

# `granary-silo --healthcheck`: the gateway answers /ready (gateway silos), else the silo endpoint
# accepts connections.
if [ "${1:-}" = --healthcheck ]; then
  if [ "${GRANARY_GATEWAY:-0}" = 1 ]; then
    exec curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:${GRANARY_GATEWAY_PORT:-8000}/ready"
  fi
  exec timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "${GRANARY_PORT:-11111}"
fi

: "${GRANARY_CLUSTER:?set GRANARY_CLUSTER=redis://HOST:6379}"
if [ -z "${GRANARY_CLUSTER_CERTIFICATE:-}" ]; then
  echo "granary-silo: GRANARY_CLUSTER_CERTIFICATE is not set: plain TCP without authentication, for tests only" >&2
elif [ ! -r "$GRANARY_CLUSTER_CERTIFICATE" ]; then
  echo "granary-silo: cannot read GRANARY_CLUSTER_CERTIFICATE=$GRANARY_CLUSTER_CERTIFICATE" >&2
fi
case "$host" in
  127.*|::1|localhost)
    echo "granary-silo: advertising $host; other machines cannot reach it (set GRANARY_HOST)" >&2 ;;
esac

set -- silo \
  --cluster "$GRANARY_CLUSTER" \
  --cluster-id "${GRANARY_CLUSTER_ID:-granary}" \
  --name "${GRANARY_NAME:-$(hostname)}" \
  --host "$host" \
  --port "${GRANARY_PORT:-11111}" \
  --client-port "${GRANARY_CLIENT_PORT:-30000}" \
  --devices "${GRANARY_DEVICES:-cpu:0}" \
  "$@"
if [ "${GRANARY_GATEWAY:-0}" = 1 ]; then
  set -- "$@" --gateway --gateway-host 0.0.0.0 --gateway-port "${GRANARY_GATEWAY_PORT:-8000}"
fi
exec dotnet /opt/granary/granary.dll "$@"
