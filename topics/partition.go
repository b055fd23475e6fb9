package topics

import "github.com/google/uuid"

// PartitionOf is the partition of the commands and events topics that holds the
// records keyed by id (a zone's, or an event's waiting room's), with partitions
// partitions: the partition Kafka's default partitioner picks for the key
// id.String() (murmur2 of the key, sign bit cleared, modulo the partition count), so
// every producer, whatever its client, agrees with it.
func PartitionOf(id uuid.UUID, partitions int32) int32 {
	return int32((murmur2([]byte(id.String())) & 0x7fffffff) % uint32(partitions))
}

// murmur2 is the 32-bit hash Kafka's default partitioner uses, as in the Java
// client's Utils.murmur2.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
