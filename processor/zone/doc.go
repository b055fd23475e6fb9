// Package zone is the zone state machine of one partition: zones, holds, orders and
// idempotency keys in memory, and the rules that decide each command's outcome.
//
// It is pure and deterministic: time enters only as an argument, it does no I/O, and
// the same commands at the same times always give the same outcomes. One State owns
// one partition; one goroutine owns one State. Its changes are drained as compact
// binary records for the compacted changelog topic (DrainChanges), from which a State
// is rebuilt on assignment. The Kafka loop that feeds it is package processor.
package zone
