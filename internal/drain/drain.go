// Package drain holds what the components share to stop gracefully: a context
// for the last piece of work that outlives the stop signal but not a bound, and
// leaving a consumer group as a static member, which closing the client does not
// do.
package drain

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveTimeout bounds the LeaveGroup request of Leave.
const LeaveTimeout = 5 * time.Second

// Finish returns a context for finishing the work under way when ctx (the run's
// context) may already be done: it is not cancelled with ctx, and ends after
// bound. The caller must call cancel.
func Finish(ctx context.Context, bound time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), bound)
}

// Leave removes the static member instanceID, which had memberID, from group
// (KIP-345), so that the group hands its partitions to the other members at once
// instead of keeping them for its return until the session timeout. franz-go's
// Close does not send a LeaveGroup for a static member: a static member that
// closes is expected back. Call it after the member's client is closed (a member
// still heartbeating would rejoin), with the member id it had (GroupMetadata)
// read before: the broker then refuses the leave (FENCED_INSTANCE_ID) if another
// process has taken the instance id since, rather than throwing that one out.
// An empty instanceID (a dynamic member, which Close already took out) or
// memberID (never joined) does nothing. cl is any client of the cluster.
func Leave(ctx context.Context, cl *kgo.Client, group, instanceID, memberID string) error {
	if instanceID == "" || memberID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), LeaveTimeout)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = group
	m := kmsg.NewLeaveGroupRequestMember()
	m.InstanceID, m.MemberID = &instanceID, memberID
	m.Reason = kmsg.StringPtr("graceful shutdown")
	req.Members = append(req.Members, m)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
		for _, rm := range resp.Members {
			if err == nil {
				err = kerr.ErrorForCode(rm.ErrorCode)
			}
		}
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
