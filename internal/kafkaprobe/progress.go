package kafkaprobe

import (
	"fmt"
	"io"
	"time"
)

// progressEvery is how often a progress line is written.
const progressEvery = time.Second

// progress writes a line every second for a phase: records done of total, and the
// rate over the last second. stop ends it and writes nothing more.
func progress(w io.Writer, phase string, total int, done func() int64) (stop func()) {
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		start, last, lastAt := time.Now(), int64(0), time.Now()
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				n := done()
				fmt.Fprintf(w, "kafkaprobe: %s %d/%d records, %.0f/s (%.0fs)\n", phase, n, total,
					float64(n-last)/now.Sub(lastAt).Seconds(), now.Sub(start).Seconds())
				last, lastAt = n, now
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}
