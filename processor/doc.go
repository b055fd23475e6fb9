// Package processor is the consume-transform-produce loop around the zone state
// machine (package zone): it owns partitions of the commands topic as a member of the
// processor group, restores each partition's state from Kafka on assignment (reading
// its changelog), feeds commands and ticks to the state, and produces the outcomes,
// the changelog records and the consumed offsets in one Kafka transaction, so each
// command's outcome is written exactly once. It also follows how far the read model
// has got (sunk-through) and exports the loop's metrics.
//
// All decisions are the state machine's; this package only moves bytes and time.
package processor
