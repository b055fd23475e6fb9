package topics

import (
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
)

// keyPartitioner is Kafka's default partitioner for keyed records (murmur2 of the
// key, modulo the partition count). It keeps no state for keyed records, so one
// value serves every goroutine.
var keyPartitioner = kgo.StickyKeyPartitioner(nil).ForTopic("")

// PartitionOf is the partition of the commands and events topics that holds zone's
// records, with partitions partitions: the partition Kafka's default partitioner
// picks for the key zone.String().
func PartitionOf(zone uuid.UUID, partitions int32) int32 {
	r := kgo.Record{Key: []byte(zone.String())}
	return int32(keyPartitioner.Partition(&r, int(partitions)))
}
