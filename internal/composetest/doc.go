// Package composetest proves the compose stack of deploy/compose: it brings the
// stack up from the local images with deploy/compose/compose.sh (what `make
// compose-up` runs), runs the seed's session against its API, checks that its
// Prometheus loaded every rule and scrapes every ticketd component, and tears it
// down, also when a check fails. That test needs Docker and docker-compose and
// skips under -short; the checks of the compose files themselves need nothing.
package composetest
