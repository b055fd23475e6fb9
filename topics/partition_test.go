package topics_test

import (
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestPartitionOfIsKafkasDefault proves that PartitionOf picks the partition the
// Kafka client's default partitioner picks for the zone's key, for many zones and
// partition counts, so the API's request ids and the brokers agree on where a zone
// lives.
func TestPartitionOfIsKafkasDefault(t *testing.T) {
	kafka := kgo.StickyKeyPartitioner(nil).ForTopic("")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20_000 {
		var zone uuid.UUID
		for j := range zone {
			zone[j] = byte(rng.Uint32())
		}
		n := int32(1 + i%64)
		r := kgo.Record{Key: []byte(zone.String())}
		if got, want := topics.PartitionOf(zone, n), int32(kafka.Partition(&r, int(n))); got != want {
			t.Fatalf("PartitionOf(%s, %d) = %d, the Kafka client picks %d", zone, n, got, want)
		}
	}
}
