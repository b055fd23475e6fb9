// Package drain holds what the components share to stop gracefully: a context
// for the last piece of work that outlives the stop signal but not a bound, and
// leaving a consumer group as a static member, which closing the client does not
// do.
package drain

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// LeaveTimeout bounds the LeaveGroup request of Leave.
const LeaveTimeout = 5 * time.Second

// Finish returns a context for finishing the work under way when ctx (the run's
// context) may already be done: it is not cancelled with ctx, and ends after
// bound. The caller must call cancel.
func Finish(ctx context.Context, bound time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), bound)
}

// Leave removes the static member instanceID from group (KIP-345), so that the
// group hands its partitions to the other members at once instead of keeping them
// for its return until the session timeout. franz-go's Close does not send a
// LeaveGroup for a static member: a static member that closes is expected back.
// Call it after the member's client is closed (a member still heartbeating would
// rejoin). An empty instanceID (a dynamic member, which Close already took out)
// does nothing.
func Leave(ctx context.Context, adm *kadm.Client, group, instanceID string) error {
	if instanceID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), LeaveTimeout)
	defer cancel()
	resps, err := adm.LeaveGroup(ctx, kadm.LeaveGroup(group).InstanceIDs(instanceID).Reason("graceful shutdown"))
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return fmt.Errorf("leave group %s as %s: %w", group, instanceID, err)
	}
	return nil
}

// Outlive returns a context that ends bound after ctx ends (or when cancel is
// called): the work of a run that must not be cut the moment a stop arrives, but
// must not hold the stop up for longer than bound either. The caller must call
// cancel.
func Outlive(ctx context.Context, bound time.Duration) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(bound, cancel) })
	return out, func() {
		stop()
		cancel()
	}
}
