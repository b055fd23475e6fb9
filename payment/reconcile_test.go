package payment

import "testing"

func TestCompare(t *testing.T) {
	// Proves reconciliation reports a paid intent without order, a refund owed, an amount mismatch and an order without payment, and nothing for matching or foreign intents.
	ours := func(id string, amount int64) Intent {
		return Intent{ID: id, Amount: amount, Currency: "eur", Status: "succeeded", Metadata: map[string]string{MetaHoldID: "h"}}
	}
	intents := []Intent{ours("pi_ok", 100), ours("pi_lost", 100), ours("pi_owed", 100), ours("pi_refunded", 100),
		ours("pi_amount", 100), {ID: "pi_foreign", Amount: 5, Currency: "eur"}}
	ledger := map[string]LedgerEntry{
		"pi_ok":       {IntentID: "pi_ok", Status: "succeeded", Amount: 100, Currency: "eur", HasOrder: true},
		"pi_lost":     {IntentID: "pi_lost", Status: "started"},
		"pi_owed":     {IntentID: "pi_owed", Status: "refund_required"},
		"pi_refunded": {IntentID: "pi_refunded", Status: "refund_required", Refunded: true},
		"pi_amount":   {IntentID: "pi_amount", Status: "succeeded", Amount: 90, Currency: "eur", HasOrder: true},
	}
	diffs := Compare(intents, ledger, []string{"pi_ok", "pi_ghost"})
	want := map[string]DifferenceKind{"pi_lost": DiffMissingOrder, "pi_owed": DiffRefundOwed, "pi_amount": DiffAmount, "pi_ghost": DiffOrderUnpaid}
	if len(diffs) != len(want) {
		t.Fatalf("differences %+v, want %v", diffs, want)
	}
	for _, d := range diffs {
		if want[d.IntentID] != d.Kind {
			t.Errorf("%s: %s, want %s", d.IntentID, d.Kind, want[d.IntentID])
		}
	}
	if c := Counts(diffs); c[DiffMissingOrder] != 1 || len(c) != len(DifferenceKinds) {
		t.Fatalf("counts %v", c)
	}
	if cmd := ConfirmCommand(intents[0], intents[0].Created); cmd != nil {
		t.Fatalf("an intent without zone and event metadata made a command: %+v", cmd)
	}
}
