# ultimate-ticket: `make run` runs the system, `make test` runs the whole suite.
# Both first run `make deps`, which installs and starts what they need on a fresh
# machine (Docker, the Kafka and Postgres images).

SHELL := /bin/bash
GO ?= go
PKGS := ./...
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 30s

# go.mod names the toolchain to build with (its standard library has the security
# fixes); when the installed Go is older, the go command fetches that toolchain from
# the module proxy. A machine's Go config may say GOTOOLCHAIN=local: override it.
export GOTOOLCHAIN ?= auto

# testcontainers-go: no reaper image can be pulled here (containers are removed by the
# tests themselves), and the host is the machine Docker publishes ports on.
export TESTCONTAINERS_RYUK_DISABLED ?= true
export TESTCONTAINERS_HOST_OVERRIDE ?= localhost

# Image names resolved by `make deps` (official images, or local builds).
IMAGES := set -a; [ -f .cache/images.env ] && . ./.cache/images.env; set +a;

.PHONY: all deps build test test-short bench run run-cluster chaos fmt vet tidy lint k8s-validate k8s-rules fuzz clean

all: build

deps:
	@bash deploy/deps.sh

build:
	$(GO) build -o bin/ ./cmd/...

# gotestsum (pinned in go.mod as a tool) prints each test as it ends, so a long
# end-to-end package shows progress; the summary lists failures at the end.
TESTSUM := $(GO) tool gotestsum --format testname --format-hide-empty-pkg --

test: deps
	@$(IMAGES) $(TESTSUM) -count=1 -timeout 25m $(PKGS)

test-short:
	$(TESTSUM) -short -count=1 $(PKGS)

bench: deps
	@$(IMAGES) bash deploy/bench.sh

run: deps build
	@$(IMAGES) $(GO) run ./cmd/devstack

# Like run, on a 3-node KRaft cluster with every topic replicated 3 times.
run-cluster: deps build
	@$(IMAGES) $(GO) run ./cmd/devstack -kafka-nodes 3

# The system as separate containers (deploy/compose): 3 Kafka brokers, Postgres, api,
# two processors, sink, Prometheus with the alert rules, Alertmanager; Grafana too with
# GRAFANA=1 (it has no local image), the payments worker too with STRIPE_SECRET_KEY
# (and WEBHOOK_SECRET) set. Builds ticketd and the images it needs, prints the URLs.
# compose-down removes it all, data included.
.PHONY: compose-up compose-down
compose-up: deps
	@$(IMAGES) bash deploy/compose/compose.sh up

compose-down:
	@bash deploy/compose/compose.sh down

# The system under faults (3 brokers, Postgres, api, 2 processors, sink as processes),
# then its invariants checked. CHAOS_DURATION (default 5m) of faults; CHAOS_SEED
# replays a run's fault schedule (the seed is printed at the start).
chaos: deps
	@$(IMAGES) $(GO) run ./cmd/chaos

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet $(PKGS)

tidy:
	$(GO) mod tidy

# govulncheck reads a database built from the module proxy (deploy/vulndb.sh), so
# lint needs no host but the proxy.
lint: vet k8s-validate
	$(GO) run $(STATICCHECK) $(PKGS)
	@db=$$(bash deploy/vulndb.sh) && echo "==> govulncheck ($$db)" && $(GO) run $(GOVULNCHECK) -db "$$db" $(PKGS)

# The Kubernetes manifests of deploy/k8s, offline: kustomize renders the base and each
# overlay, every object is decoded strictly (Kubernetes and Prometheus Operator Go types;
# JSON schemas in the repo for Strimzi and KEDA), cross-checked (topics.Declared, probes,
# references) and every rule expression parsed. Its own module (deploy/k8s/validate)
# keeps k8s.io and kustomize out of go.mod. The tests include the negative cases.
K8S_VALIDATE := cd deploy/k8s/validate &&
k8s-validate:
	$(K8S_VALIDATE) $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...
	$(K8S_VALIDATE) $(GO) run . -repo ../../..
	$(K8S_VALIDATE) $(GO) test -count=1 ./...

# Rewrites deploy/k8s/base/prometheusrule.yaml from the rule files of
# deploy/prometheus/prometheus.yml (kustomize reads no file outside its root).
k8s-rules:
	$(K8S_VALIDATE) $(GO) run . -repo ../../.. -write

# Every fuzz target for FUZZTIME each (FUZZ_MATCH picks some); failing inputs are kept
# under testdata/fuzz/.
fuzz:
	@FUZZTIME=$(FUZZTIME) GO=$(GO) bash deploy/fuzz.sh

clean:
	rm -rf bin .cache
