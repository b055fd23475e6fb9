#!/usr/bin/env bash
# Runs the compose stack (deploy/compose/docker-compose.yml); `make compose-up` and
# `make compose-down` call it, and so does internal/composetest.
#
#   compose.sh images   build what is missing, print the image variables (NAME=value)
#   compose.sh up       images, then start the stack, wait for the API, print the URLs
#   compose.sh down     stop and remove the stack, its volumes included
#
# images: ticketd is built with the host's Go (CGO_ENABLED=0) and copied into an image
# FROM the Debian base image (deploy/images/ticketd); Prometheus and Alertmanager are
# built from Debian's packages (deploy/images/prometheus, alertmanager), tagged with a
# hash of their build files; Kafka and Postgres are those of `make deps`
# (.cache/images.env). An image variable already set is used as it is, nothing built.
# Grafana has no local build: GRAFANA=1 adds the "grafana" profile, with GRAFANA_IMAGE
# or grafana/grafana, which must then be present or pullable.
#
# Payments are off unless STRIPE_SECRET_KEY is set: then the "payments" profile adds
# the payments worker, and WEBHOOK_SECRET is required (STRIPE_API_URL: Stripe's by
# default, or a stripe-mock on the host as http://host.docker.internal:PORT).
#
# Environment: COMPOSE_PROJECT_NAME (ultimate-ticket), COMPOSE_API_PORT (18080),
# COMPOSE_PROMETHEUS_PORT (19090), COMPOSE_GRAFANA_PORT (13000), GRAFANA (0),
# COMPOSE_READY_TIMEOUT seconds (240), GO (go); the ticketd settings the compose file
# reads (ADMIN_TOKEN, ADMISSION_SIGNING_KEY, POW_SECRET, STRIPE_SECRET_KEY, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-ultimate-ticket}
export COMPOSE_API_PORT=${COMPOSE_API_PORT:-18080}
export COMPOSE_PROMETHEUS_PORT=${COMPOSE_PROMETHEUS_PORT:-19090}
export COMPOSE_GRAFANA_PORT=${COMPOSE_GRAFANA_PORT:-13000}
file=deploy/compose/docker-compose.yml
base_image=${BASE_IMAGE:-ultimate-ticket/debian:bookworm}
mkdir -p .cache

say() { printf '==> %s\n' "$*" >&2; }
content_hash() { cat "$@" | sha256sum | cut -c1-10; }

# build_image TAG DIR: docker build, its output shown only when it fails.
build_image() {
  local log=.cache/compose-build.log
  DOCKER_BUILDKIT=0 docker build --build-arg BASE_IMAGE="$base_image" -t "$1" "$2" >"$log" 2>&1 ||
    { tail -30 "$log" >&2; return 1; }
}

# Debian's docker-compose (1.29) reads the file; installed when missing.
ensure_compose() {
  command -v docker-compose >/dev/null && return 0
  say "installing docker-compose from Debian"
  command -v apt-get >/dev/null || { echo "docker-compose is not installed and apt-get is not here" >&2; return 1; }
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose; } >>.cache/deps.log 2>&1 ||
    { tail -20 .cache/deps.log >&2; return 1; }
}

ticketd_image() {
  if [ -n "${TICKETD_IMAGE:-}" ]; then return 0; fi
  TICKETD_IMAGE=ultimate-ticket/ticketd:compose
  say "ticketd: go build and image $TICKETD_IMAGE"
  local ctx rc=0
  ctx=$(mktemp -d /tmp/ut-ticketd-image.XXXXXX)
  { CGO_ENABLED=0 "${GO:-go}" build -trimpath -o "$ctx/ticketd" ./cmd/ticketd &&
    cp deploy/images/ticketd/Dockerfile "$ctx/" &&
    build_image "$TICKETD_IMAGE" "$ctx"; } || rc=$?
  rm -rf "$ctx"
  return "$rc"
}

# debian_image VAR NAME: the local image of a Debian package (deploy/images/NAME),
# built when it is not there yet, unless VAR is set.
debian_image() {
  local var=$1 name=$2
  if [ -n "${!var:-}" ]; then return 0; fi
  local tag
  tag=ultimate-ticket/$name:$(content_hash "deploy/images/$name/Dockerfile" deploy/images/base/build.sh)
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    say "$name: building $tag from Debian's package"
    build_image "$tag" "deploy/images/$name"
  fi
  printf -v "$var" '%s' "$tag"
}

images() {
  ensure_compose
  if [ -f .cache/images.env ]; then
    # Kafka and Postgres as `make deps` resolved them, unless set already.
    local k=${KAFKA_IMAGE:-} p=${POSTGRES_IMAGE:-}
    set -a; . ./.cache/images.env; set +a
    KAFKA_IMAGE=${k:-$KAFKA_IMAGE} POSTGRES_IMAGE=${p:-$POSTGRES_IMAGE}
  fi
  if ! docker image inspect "$base_image" >/dev/null 2>&1; then
    say "base image $base_image"
    DEPS_LOG=$PWD/.cache/deps.log bash deploy/images/base/build.sh >&2
  fi
  ticketd_image
  debian_image PROMETHEUS_IMAGE prometheus
  debian_image ALERTMANAGER_IMAGE alertmanager
  for v in KAFKA_IMAGE POSTGRES_IMAGE TICKETD_IMAGE PROMETHEUS_IMAGE ALERTMANAGER_IMAGE GRAFANA_IMAGE; do
    if [ -n "${!v:-}" ]; then printf '%s=%s\n' "$v" "${!v}"; fi
  done
}

profiles() {
  if [ "${GRAFANA:-0}" = 1 ]; then printf -- '--profile grafana '; fi
  if [ -n "${STRIPE_SECRET_KEY:-}" ]; then printf -- '--profile payments'; fi
}

# wait_ready: GET /ready of the API answers 200, within COMPOSE_READY_TIMEOUT seconds.
wait_ready() {
  local deadline=$((SECONDS + ${COMPOSE_READY_TIMEOUT:-240}))
  until curl -fsS -o /dev/null --noproxy '*' "http://127.0.0.1:$COMPOSE_API_PORT/ready" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "the API is not ready after ${COMPOSE_READY_TIMEOUT:-240}s; docker-compose -p $COMPOSE_PROJECT_NAME -f $file logs api" >&2
      return 1
    fi
    sleep 1
  done
}

up() {
  if [ -n "${STRIPE_SECRET_KEY:-}" ] && [ -z "${WEBHOOK_SECRET:-}" ]; then
    echo "STRIPE_SECRET_KEY is set: set WEBHOOK_SECRET too (the signing secret of the Stripe webhook endpoint)" >&2
    return 1
  fi
  local env
  env=$(images)
  set -a; eval "$env"; set +a
  say "docker-compose -p $COMPOSE_PROJECT_NAME up (the Kafka quorum, topics and migrations come first)"
  # shellcheck disable=SC2046 # profiles is empty or words
  docker-compose -p "$COMPOSE_PROJECT_NAME" -f "$file" $(profiles) up -d --remove-orphans
  wait_ready
  cat <<URLS
ultimate-ticket is running (compose project $COMPOSE_PROJECT_NAME):
  API          http://127.0.0.1:$COMPOSE_API_PORT   (admin token: ${ADMIN_TOKEN:-compose-admin-token-0123456789})
  Prometheus   http://127.0.0.1:$COMPOSE_PROMETHEUS_PORT   (alerts: /alerts, targets: /targets)
URLS
  if [ "${GRAFANA:-0}" = 1 ]; then
    echo "  Grafana      http://127.0.0.1:$COMPOSE_GRAFANA_PORT"
  else
    echo "  Grafana      not started (no local image): GRAFANA=1 make compose-up, with GRAFANA_IMAGE present"
  fi
  local logs="api processor-1 processor-2 sink"
  if [ -n "${STRIPE_SECRET_KEY:-}" ]; then
    echo "  Payments     on: the payments service runs (STRIPE_API_URL ${STRIPE_API_URL:-not set: Stripe itself})"
    logs+=" payments"
  else
    echo "  Payments     off: set STRIPE_SECRET_KEY and WEBHOOK_SECRET to turn them on"
  fi
  if [ -z "${ADMISSION_SIGNING_KEY:-}" ] || [ -z "${POW_SECRET:-}" ]; then
    echo "  Waiting room on the compose file's public development keys (set ADMISSION_SIGNING_KEY and POW_SECRET otherwise)"
  fi
  echo "Logs: docker-compose -p $COMPOSE_PROJECT_NAME -f $file logs -f $logs"
}

down() {
  ensure_compose
  # The profiles are named so that a Grafana or payments worker started with them goes
  # too; the images need not exist to be removed, only to be named.
  docker-compose -p "$COMPOSE_PROJECT_NAME" -f "$file" --profile grafana --profile payments down -v --remove-orphans --timeout 10
}

case "${1:-}" in
  images) images ;;
  up) up ;;
  down) down ;;
  *) echo "usage: $0 images|up|down" >&2; exit 2 ;;
esac
