# ultimate-ticket: `make run` runs the system, `make test` runs the whole suite.
# Both first run `make deps`, which installs and starts what they need on a fresh
# machine (Docker, the Kafka and Postgres images).

SHELL := /bin/bash
GO ?= go
PKGS := ./...
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# testcontainers-go: no reaper image can be pulled here (containers are removed by the
# tests themselves), and the host is the machine Docker publishes ports on.
export TESTCONTAINERS_RYUK_DISABLED ?= true
export TESTCONTAINERS_HOST_OVERRIDE ?= localhost

# Image names resolved by `make deps` (official images, or local builds).
IMAGES := set -a; [ -f .cache/images.env ] && . ./.cache/images.env; set +a;

.PHONY: all deps build test test-short bench run run-cluster chaos fmt vet tidy lint clean

all: build

deps:
	@bash deploy/deps.sh

build:
	$(GO) build -o bin/ ./cmd/...

test: deps
	@$(IMAGES) $(GO) test -count=1 -timeout 25m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

bench: deps
	@$(IMAGES) bash deploy/bench.sh

run: deps build
	@$(IMAGES) $(GO) run ./cmd/devstack

# Like run, on a 3-node KRaft cluster with every topic replicated 3 times.
run-cluster: deps build
	@$(IMAGES) $(GO) run ./cmd/devstack -kafka-nodes 3

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

lint: vet
	$(GO) run $(STATICCHECK) $(PKGS)

clean:
	rm -rf bin .cache
