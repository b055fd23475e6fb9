package payment

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reconciliation compares the provider's succeeded payments of a time range with
// what the read model made of them, so that money taken without an order (a
// webhook never delivered), a refund still owed, or an order without its payment is
// seen and, for the first, closed by sending the confirm the webhook would have sent.

// DifferenceKind names one kind of difference.
type DifferenceKind string

const (
	// DiffMissingOrder: paid at the provider, but the read model has neither an
	// order nor a refund decision for it.
	DiffMissingOrder DifferenceKind = "paid_without_order"
	// DiffRefundOwed: the processor decided a refund (payment.refund_required) the
	// payments worker has not recorded yet.
	DiffRefundOwed DifferenceKind = "refund_owed"
	// DiffAmount: the order's amount or currency is not the provider's.
	DiffAmount DifferenceKind = "amount_mismatch"
	// DiffOrderUnpaid: an order of the range names an intent the provider does
	// not list as succeeded.
	DiffOrderUnpaid DifferenceKind = "order_without_payment"
)

// DifferenceKinds lists every kind, for metrics.
var DifferenceKinds = []DifferenceKind{DiffMissingOrder, DiffRefundOwed, DiffAmount, DiffOrderUnpaid}

// Difference is one payment the two sides disagree on.
type Difference struct {
	Kind     DifferenceKind
	IntentID string
	Detail   string
	Intent   *Intent // the provider's, when it has it
}

// LedgerEntry is what the read model knows of one intent.
type LedgerEntry struct {
	IntentID string
	Status   string // payments.status; "" when no row
	Amount   int64  // the order's, when there is one
	Currency string
	HasOrder bool
	Refunded bool // payment_actions has a refund
}

// ReconcileIntentsMax bounds the provider's intents one reconciliation reads.
const ReconcileIntentsMax = 100_000

// Compare lists the differences between the provider's succeeded intents and the
// ledger: entries by intent, plus the orders of the range (ledger entries with
// HasOrder whose intent the provider did not list). Sorted by kind, then intent.
func Compare(intents []Intent, ledger map[string]LedgerEntry, rangeOrders []string) []Difference {
	var out []Difference
	listed := make(map[string]bool, len(intents))
	for i := range intents {
		in := &intents[i]
		listed[in.ID] = true
		if _, ours := in.Metadata[MetaHoldID]; !ours {
			continue
		}
		e, ok := ledger[in.ID]
		switch {
		case !ok || (!e.HasOrder && e.Status != "refund_required"):
			out = append(out, Difference{Kind: DiffMissingOrder, IntentID: in.ID, Intent: in,
				Detail: fmt.Sprintf("%d %s paid, read model status %q", in.Amount, in.Currency, e.Status)})
		case e.Status == "refund_required" && !e.Refunded:
			out = append(out, Difference{Kind: DiffRefundOwed, IntentID: in.ID, Intent: in, Detail: "refund decided, not recorded"})
		case e.HasOrder && (e.Amount != in.Amount || e.Currency != in.Currency):
			out = append(out, Difference{Kind: DiffAmount, IntentID: in.ID, Intent: in,
				Detail: fmt.Sprintf("order %d %s, provider %d %s", e.Amount, e.Currency, in.Amount, in.Currency)})
		}
	}
	for _, id := range rangeOrders {
		if !listed[id] {
			out = append(out, Difference{Kind: DiffOrderUnpaid, IntentID: id, Detail: "not a succeeded intent at the provider"})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].IntentID < out[j].IntentID
	})
	return out
}

// Counts counts differences by kind, every kind present.
func Counts(diffs []Difference) map[DifferenceKind]int {
	out := make(map[DifferenceKind]int, len(DifferenceKinds))
	for _, k := range DifferenceKinds {
		out[k] = 0
	}
	for _, d := range diffs {
		out[d.Kind]++
	}
	return out
}

const ledgerSQL = `
SELECT i.id, COALESCE(p.status, ''), COALESCE(o.amount, 0), COALESCE(o.currency, ''), o.id IS NOT NULL,
       EXISTS (SELECT 1 FROM payment_actions a WHERE a.intent_id = i.id AND a.action = 'refunded')
FROM unnest($1::text[]) AS i(id)
LEFT JOIN payments p ON p.intent_id = i.id
LEFT JOIN orders o ON o.payment_intent_id = i.id`

// rangeOrdersSQL lists the intents of the orders created in the range. Orders are
// created after their intent, so the range reaches a grace period past `to`.
const rangeOrdersSQL = `
SELECT payment_intent_id FROM orders
WHERE payment_intent_id IS NOT NULL AND created_at >= $1 AND created_at < $2 LIMIT $3`

// Reconcile reads the provider's succeeded intents created in [from, to) and the
// read model's view of them, and returns the differences.
func Reconcile(ctx context.Context, p Provider, pool *pgxpool.Pool, from, to time.Time) ([]Difference, error) {
	intents, err := p.SucceededIntents(ctx, from, to, ReconcileIntentsMax)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(intents))
	for i := range intents {
		ids[i] = intents[i].ID
	}
	ledger := make(map[string]LedgerEntry, len(ids))
	rows, err := pool.Query(ctx, ledgerSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("payment: reconcile: ledger: %w", err)
	}
	for rows.Next() {
		var e LedgerEntry
		if err := rows.Scan(&e.IntentID, &e.Status, &e.Amount, &e.Currency, &e.HasOrder, &e.Refunded); err != nil {
			rows.Close()
			return nil, fmt.Errorf("payment: reconcile: ledger row: %w", err)
		}
		ledger[e.IntentID] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("payment: reconcile: ledger: %w", err)
	}
	orders, err := pool.Query(ctx, rangeOrdersSQL, from, to.Add(time.Hour), ReconcileIntentsMax)
	if err != nil {
		return nil, fmt.Errorf("payment: reconcile: orders: %w", err)
	}
	var rangeOrders []string
	for orders.Next() {
		var id pgtype.Text
		if err := orders.Scan(&id); err != nil {
			orders.Close()
			return nil, fmt.Errorf("payment: reconcile: order row: %w", err)
		}
		rangeOrders = append(rangeOrders, id.String)
	}
	if err := orders.Err(); err != nil {
		return nil, fmt.Errorf("payment: reconcile: orders: %w", err)
	}
	return Compare(intents, ledger, rangeOrders), nil
}
