package drain

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestLeaveTakesOnlyItsOwnMemberOut proves Leave on real Kafka: a static member
// that closed and left is out of the group at once; and a closed member whose
// instance id another process has taken since cannot throw that one out (the
// broker answers FENCED_INSTANCE_ID to the old member id).
func TestLeaveTakesOnlyItsOwnMemberOut(t *testing.T) {
	brokers := testenv.Kafka(t)
	topic := testenv.Topics(t, 1).Commands
	group := fmt.Sprintf("leave-%d", time.Now().UnixNano())
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	first := joined(t, brokers, group, topic, "node-0")
	member, _ := first.GroupMetadata()
	first.Close()
	if n := groupSize(t, adm, group); n != 1 {
		t.Fatalf("%d members after a static member's Close, want 1 (Close does not leave)", n)
	}
	if err := Leave(context.Background(), admCl, group, "node-0", member); err != nil {
		t.Fatal(err)
	}
	if n := groupSize(t, adm, group); n != 0 {
		t.Fatalf("%d members after Leave, want 0", n)
	}

	old := joined(t, brokers, group, topic, "node-1")
	oldMember, _ := old.GroupMetadata()
	old.Close()
	successor := joined(t, brokers, group, topic, "node-1") // the same instance id, started again
	defer successor.Close()
	err = Leave(context.Background(), admCl, group, "node-1", oldMember)
	if !errors.Is(err, kerr.FencedInstanceID) {
		t.Fatalf("Leave with the old member id: %v, want FENCED_INSTANCE_ID", err)
	}
	if n := groupSize(t, adm, group); n != 1 {
		t.Fatalf("%d members after the refused leave, want the successor", n)
	}
}

// joined is a static member of group that has joined (it polled an assignment).
func joined(t *testing.T, brokers []string, group, topic, instance string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.InstanceID(instance), kgo.SessionTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		if m, gen := cl.GroupMetadata(); m != "" && gen > 0 {
			return cl
		}
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			t.Fatal("the member did not join within a minute")
		}
	}
}

func groupSize(t *testing.T, adm *kadm.Client, group string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	groups, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	return len(groups[group].Members)
}
