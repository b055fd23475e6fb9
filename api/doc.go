// Package api is the HTTP edge of ultimate-ticket: a gin server that validates
// requests, turns them into commands for the processor (through a Publisher), and
// answers reads from the Postgres read model (through a ReadModel).
//
// Submits are asynchronous: they answer 202 with a request id to poll at
// /requests/{id}, or, with `Prefer: wait=N` (RFC 7240), wait up to N seconds for the
// processor's decision and answer like a synchronous API would (201, 200, 409, ...).
//
// The API never writes Postgres: the sink is the read model's only writer. That is
// why a request the API accepted but the sink has not recorded yet has no row, and
// the API infers "pending" from the request id itself: a UUIDv7 that carries its
// creation time and its command's partition, pending until the sink has written
// that partition past it (see server.mayBePending and docs/adr/0004).
//
// Errors are typed inside the package (*Error with a Kind) and mapped to HTTP status
// codes in one place, at the edge (statusOf).
package api
