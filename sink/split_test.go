package sink

import "testing"

// TestSplitByPartition proves that a batch is shared among writers by partition:
// every record of a partition in one share, in its order, no record lost, no empty
// share.
func TestSplitByPartition(t *testing.T) {
	var batch []Record
	for i := range 30 {
		batch = append(batch, Record{Partition: int32(i % 5), Offset: int64(i / 5)})
	}
	for _, n := range []int{1, 2, 3, 8} {
		shares := splitByPartition(batch, n)
		total := 0
		owner := map[int32]int{}
		for si, share := range shares {
			if len(share) == 0 {
				t.Fatalf("n=%d: empty share", n)
			}
			last := map[int32]int64{}
			for _, r := range share {
				if o, ok := owner[r.Partition]; ok && o != si {
					t.Fatalf("n=%d: partition %d in shares %d and %d", n, r.Partition, o, si)
				}
				owner[r.Partition] = si
				if prev, ok := last[r.Partition]; ok && r.Offset <= prev {
					t.Fatalf("n=%d: partition %d out of order", n, r.Partition)
				}
				last[r.Partition] = r.Offset
			}
			total += len(share)
		}
		if total != len(batch) || len(shares) > n {
			t.Fatalf("n=%d: %d records in %d shares, want %d in at most %d", n, total, len(shares), len(batch), n)
		}
	}
}
