#!/usr/bin/env bash
# Makes a machine ready to run and test ultimate-ticket: Docker installed and running,
# the Kafka and Postgres images present, and Prometheus installed (for the dashboards
# test; never left running as a service). Official images are used when they are
# present or can be pulled; otherwise local equivalents are built from Debian packages
# and Maven Central (deploy/images/). Writes the image names to .cache/images.env for
# the Makefile. Every step says what it does and how long it took; a second run on a
# warm machine takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache

KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
official_kafka=apache/kafka:$KAFKA_VERSION
official_postgres=postgres:15
# Local images are tagged with a hash of their build files, so a change rebuilds them.
content_hash() { cat "$@" | sha256sum | cut -c1-10; }
local_kafka=ultimate-ticket/kafka:$KAFKA_VERSION-$(content_hash deploy/images/kafka/{Dockerfile,run,log4j2.yaml,pom.xml} deploy/images/base/build.sh)
local_postgres=ultimate-ticket/postgres:15-$(content_hash deploy/images/postgres/{Dockerfile,entrypoint.sh} deploy/images/base/build.sh)

step() { step_start=$(date +%s%N); printf '==> %s\n' "$1"; }
done_step() { local ms=$(( ($(date +%s%N) - step_start) / 1000000 )); printf '    done in %d.%03ds\n' $((ms / 1000)) $((ms % 1000)); }

# quiet CMD...: runs a noisy command (apt, debootstrap, maven) with its output in
# .cache/deps.log, shown only when it fails, so deps prints nothing but its own steps.
quiet() {
  printf '\n$ %s\n' "$*" >>.cache/deps.log
  "$@" >>.cache/deps.log 2>&1 || { local rc=$?; echo "    failed: $* (last lines of .cache/deps.log):" >&2; tail -30 .cache/deps.log >&2; return "$rc"; }
}
export -f quiet

step "docker: installed?"
if ! command -v dockerd >/dev/null 2>&1; then
  echo "    installing docker.io from Debian"
  quiet apt-get update -q
  quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io
fi
done_step

step "docker-compose: installed? (make compose-up and its test)"
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "    installing docker-compose from Debian"
  quiet apt-get update -q
  quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose
fi
done_step

step "docker: daemon running?"
if ! docker info >/dev/null 2>&1; then
  echo "    starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi
done_step

# have IMAGE: present locally, or pulled within a short time.
have() {
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  [ "${DEPS_PULL:-1}" = 1 ] || return 1
  timeout "${DEPS_PULL_TIMEOUT:-60}" docker pull -q "$1" >/dev/null 2>&1
}

build_image() {
  DOCKER_BUILDKIT=0 docker build -t "$1" "$2" >.cache/build.log 2>&1 || { tail -30 .cache/build.log; exit 1; }
}

build_base() {
  DEPS_LOG=$PWD/.cache/deps.log bash deploy/images/base/build.sh
}

step "image: kafka"
kafka_image=${KAFKA_IMAGE:-}
if [ -z "$kafka_image" ]; then
  if docker image inspect "$local_kafka" >/dev/null 2>&1; then kafka_image=$local_kafka
  elif have "$official_kafka"; then kafka_image=$official_kafka
  else
    echo "    $official_kafka cannot be pulled: building $local_kafka"
    build_base
    if [ ! -d deploy/images/kafka/libs ] || [ -z "$(ls deploy/images/kafka/libs)" ]; then
      command -v mvn >/dev/null || { quiet apt-get update -q; quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q maven; }
      echo "    fetching Kafka $KAFKA_VERSION jars from Maven Central"
      quiet mvn -q -B -f deploy/images/kafka/pom.xml -Dstyle.color=never -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$PWD/deploy/images/kafka/libs"
    fi
    build_image "$local_kafka" deploy/images/kafka
    kafka_image=$local_kafka
  fi
fi
echo "    $kafka_image"
done_step

step "image: postgres"
postgres_image=${POSTGRES_IMAGE:-}
if [ -z "$postgres_image" ]; then
  if docker image inspect "$local_postgres" >/dev/null 2>&1; then postgres_image=$local_postgres
  elif have "$official_postgres"; then postgres_image=$official_postgres
  else
    echo "    $official_postgres cannot be pulled: building $local_postgres"
    build_base
    build_image "$local_postgres" deploy/images/postgres
    postgres_image=$local_postgres
  fi
fi
echo "    $postgres_image"
done_step

# Prometheus is only a test tool here (internal/e2e/dashboards_test.go runs it against
# the system to check every dashboard query); the test starts its own process, so the
# package's service must not be left running. policy-rc.d (exit 101) stops the
# maintainer scripts from starting it; no recommends (node-exporter is a service too).
step "prometheus: installed?"
if [ ! -x /usr/bin/prometheus ]; then
  echo "    installing prometheus from Debian (service not started)"
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  quiet apt-get update -q
  quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus || {
    [ "$made_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ "$made_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
  # Belt and braces: should an init script have started it anyway, stop that service.
  if [ -f /run/prometheus/prometheus.pid ] && [ -x /etc/init.d/prometheus ]; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
fi
/usr/bin/prometheus --version 2>&1 | head -1 | sed 's/^/    /'
done_step

# stripe-mock (Stripe's mock API server) is a test and `make run` tool for payments;
# internal/stripemock starts it on a free port. Installed with the Go toolchain into
# .cache/bin, pinned; a marker file records the installed version.
STRIPE_MOCK_VERSION=v0.203.0
step "stripe-mock: installed?"
if [ ! -x .cache/bin/stripe-mock ] || [ "$(cat .cache/bin/stripe-mock.version 2>/dev/null)" != "$STRIPE_MOCK_VERSION" ]; then
  echo "    installing github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION into .cache/bin"
  mkdir -p .cache/bin
  quiet env GOBIN="$PWD/.cache/bin" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
  echo "$STRIPE_MOCK_VERSION" > .cache/bin/stripe-mock.version
fi
echo "    .cache/bin/stripe-mock $STRIPE_MOCK_VERSION"
done_step

cat > .cache/images.env <<ENV
KAFKA_IMAGE=$kafka_image
POSTGRES_IMAGE=$postgres_image
ENV
