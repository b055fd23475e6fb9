package drain

import (
	"context"
	"testing"
	"time"
)

// TestOutliveOutlastsTheStopByTheBound proves that work under Outlive goes on
// after the run's context ends, and ends by the bound or cancel.
func TestOutliveOutlastsTheStopByTheBound(t *testing.T) {
	run, stop := context.WithCancel(context.Background())
	work, cancel := Outlive(run, time.Hour)
	stop()
	if work.Err() != nil {
		t.Fatal("work ended with the run, not after the bound")
	}
	cancel()
	if work.Err() == nil {
		t.Fatal("work did not end with cancel")
	}

	run, stop = context.WithCancel(context.Background())
	work, cancel = Outlive(run, time.Millisecond)
	defer cancel()
	stop()
	<-work.Done() // ends by the bound, with nobody calling cancel
}

// TestFinishIsNotCancelledWithTheRun proves that Finish's context survives the
// run's end and carries its own deadline.
func TestFinishIsNotCancelledWithTheRun(t *testing.T) {
	run, stop := context.WithCancel(context.Background())
	stop()
	ctx, cancel := Finish(run, time.Hour)
	defer cancel()
	if ctx.Err() != nil {
		t.Fatal("finish context cancelled with the run")
	}
	if _, ok := ctx.Deadline(); !ok {
		t.Fatal("finish context has no bound")
	}
}
