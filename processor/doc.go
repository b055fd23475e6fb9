// Package processor holds the zone state machine of one commands partition and, around
// it, the consume-transform-produce loop that feeds it from Kafka.
//
// The state machine (State) is pure and deterministic: all time enters as an argument,
// it does no I/O, and the same commands at the same times always give the same events.
// One State owns one partition; one goroutine owns one State. Its changes are drained
// as compact binary records for a compacted changelog topic, from which a State is
// rebuilt on assignment (Restore, FinishRestore).
package processor
