package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// BenchmarkSubmitToVisible measures one buyer at a time: a hold submitted with
// `Prefer: wait=5` and answered once its result is in the read model, through Kafka,
// the processor, Kafka again, the sink and Postgres. It reports the median and p99
// of that round trip at light load, where batching cannot hide per-transaction costs.
func BenchmarkSubmitToVisible(b *testing.B) {
	s := startSystem(b)
	eventID, zones := s.createEvent(1_000_000)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		s.expect(s.do("POST", "/holds", map[string]any{
			"event_id": eventID, "zone_id": zones[0], "quantity": 1, "idempotency_key": fmt.Sprintf("lat-%d", i),
		}, "Prefer", "wait=5"), http.StatusCreated)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
