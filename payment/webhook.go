package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Publisher publishes a command on the commands topic, keyed by its zone, and
// returns once the broker has it.
type Publisher interface {
	Publish(ctx context.Context, cmd *topics.Command) error
}

// FailurePolicy is what a payment_intent.payment_failed does to its hold.
type FailurePolicy string

const (
	// FailureExpire leaves the hold to expire: the buyer may retry the same intent
	// with another card within the hold's time. The default.
	FailureExpire FailurePolicy = "expire"
	// FailureRelease releases the hold at once, giving its tickets back.
	FailureRelease FailurePolicy = "release"
)

// Defaults and bounds of WebhookConfig.
const (
	WebhookToleranceDefault = 5 * time.Minute
	WebhookToleranceMax     = time.Hour
	SeenEventsMaxDefault    = 100_000
)

// WebhookConfig configures the webhook endpoint.
type WebhookConfig struct {
	// Secret is the endpoint's signing secret (whsec_...). Required.
	Secret string
	// Tolerance is how old a signature's timestamp may be; older deliveries are
	// refused as stale (replays of a captured request). Default
	// WebhookToleranceDefault (5 minutes), at most WebhookToleranceMax.
	Tolerance time.Duration
	// OnFailure is what payment_intent.payment_failed does. Default FailureExpire.
	OnFailure FailurePolicy
	// SeenEventsMax bounds the event ids remembered to answer redeliveries without
	// publishing again. Forgetting one is harmless: its command is derived from the
	// intent, and the processor's idempotency key makes it one effect. Default
	// SeenEventsMaxDefault.
	SeenEventsMax int
}

// Validate fills the defaults and rejects a config out of bounds.
func (c *WebhookConfig) Validate() error {
	if c.Tolerance == 0 {
		c.Tolerance = WebhookToleranceDefault
	}
	if c.OnFailure == "" {
		c.OnFailure = FailureExpire
	}
	if c.SeenEventsMax == 0 {
		c.SeenEventsMax = SeenEventsMaxDefault
	}
	var errs []error
	if c.Secret == "" {
		errs = append(errs, errors.New("webhook secret is required"))
	}
	if c.Tolerance < 0 || c.Tolerance > WebhookToleranceMax {
		errs = append(errs, fmt.Errorf("webhook tolerance %v must lie within (0, %v]", c.Tolerance, WebhookToleranceMax))
	}
	if c.OnFailure != FailureExpire && c.OnFailure != FailureRelease {
		errs = append(errs, fmt.Errorf("webhook failure policy %q must be %q or %q", c.OnFailure, FailureExpire, FailureRelease))
	}
	if c.SeenEventsMax < 1 {
		errs = append(errs, fmt.Errorf("webhook SeenEventsMax %d must be >= 1", c.SeenEventsMax))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("payment: %w", err)
	}
	return nil
}

// WebhookError is a delivery refused before anything was published; Code is the
// error code of the 400 answer.
type WebhookError struct {
	Code    string
	Message string
}

func (e *WebhookError) Error() string { return "payment: webhook " + e.Code + ": " + e.Message }

// Codes of WebhookError.
const (
	CodeSignatureMissing = "signature_missing"
	CodeSignatureInvalid = "signature_invalid"
	CodeSignatureStale   = "signature_stale"
	CodePayloadInvalid   = "payload_invalid"
)

// Outcome of a delivery that was accepted.
type Outcome string

const (
	// Published: the delivery became a command, now on the commands topic.
	Published Outcome = "published"
	// Replayed: the event id was seen already; nothing was published again.
	Replayed Outcome = "replayed"
	// Ignored: an event type or intent that asks nothing of us.
	Ignored Outcome = "ignored"
)

// Result says what an accepted delivery did.
type Result struct {
	Outcome Outcome
	EventID string
	Command *topics.Command // when Published
}

// Webhook turns verified provider events into commands.
type Webhook struct {
	cfg  WebhookConfig
	pub  Publisher
	seen *seenSet
}

// NewWebhook returns the webhook; cfg is validated.
func NewWebhook(cfg WebhookConfig, pub Publisher) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Webhook{cfg: cfg, pub: pub, seen: newSeenSet(cfg.SeenEventsMax)}, nil
}

// Handle verifies one delivery and publishes its command. A *WebhookError means the
// delivery is refused (400); any other error means the command could not be
// published and the provider must deliver again (5xx): nothing is lost between a
// payment's success and its confirm.
func (w *Webhook) Handle(ctx context.Context, payload []byte, signature string) (Result, error) {
	ev, err := w.verify(payload, signature)
	if err != nil {
		return Result{}, err
	}
	res := Result{EventID: ev.ID}
	if w.seen.has(ev.ID) {
		res.Outcome = Replayed
		return res, nil
	}
	cmd, err := w.commandOf(&ev, time.Now())
	if err != nil {
		return Result{}, err
	}
	if cmd == nil {
		res.Outcome = Ignored
		w.seen.add(ev.ID)
		return res, nil
	}
	if err := w.pub.Publish(ctx, cmd); err != nil {
		return Result{}, fmt.Errorf("payment: webhook %s: publish: %w", ev.ID, err)
	}
	w.seen.add(ev.ID)
	res.Outcome, res.Command = Published, cmd
	return res, nil
}

func (w *Webhook) verify(payload []byte, signature string) (stripe.Event, error) {
	ev, err := webhook.ConstructEventWithOptions(payload, signature, w.cfg.Secret, webhook.ConstructEventOptions{
		Tolerance: w.cfg.Tolerance, IgnoreAPIVersionMismatch: true,
	})
	switch {
	case err == nil:
		return ev, nil
	case errors.Is(err, webhook.ErrNotSigned):
		return ev, &WebhookError{CodeSignatureMissing, "Stripe-Signature header missing"}
	case errors.Is(err, webhook.ErrTooOld):
		return ev, &WebhookError{CodeSignatureStale, "signature timestamp outside the tolerance"}
	case errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return ev, &WebhookError{CodeSignatureInvalid, "no valid signature"}
	}
	return ev, &WebhookError{CodePayloadInvalid, err.Error()}
}

// commandOf is the command an event asks for, or nil.
func (w *Webhook) commandOf(ev *stripe.Event, now time.Time) (*topics.Command, error) {
	var kind string
	switch ev.Type {
	case stripe.EventTypePaymentIntentSucceeded:
		kind = "succeeded"
	case stripe.EventTypePaymentIntentPaymentFailed:
		if w.cfg.OnFailure != FailureRelease {
			return nil, nil
		}
		kind = "failed"
	default:
		return nil, nil
	}
	if ev.Data == nil {
		return nil, &WebhookError{CodePayloadInvalid, "event without data"}
	}
	var pi stripe.PaymentIntent
	if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil || pi.ID == "" {
		return nil, &WebhookError{CodePayloadInvalid, "event data is not a payment intent"}
	}
	return intentCommand(kind, pi.ID, pi.Amount, string(pi.Currency), pi.Metadata, now), nil
}

// ConfirmCommand is the confirm a succeeded intent becomes, the same whether the
// webhook or reconciliation sends it, or nil for an intent without our metadata.
func ConfirmCommand(in Intent, now time.Time) *topics.Command {
	return intentCommand("succeeded", in.ID, in.Amount, in.Currency, in.Metadata, now)
}

// intentCommand builds the command of an intent's event of kind "succeeded" (a paid
// confirm) or "failed" (a release); nil when the intent is not one of ours.
func intentCommand(kind, id string, amount int64, currency string, meta map[string]string, now time.Time) *topics.Command {
	hold, zone, show, ok := intentRefs(meta)
	if !ok {
		return nil
	}
	cmd := &topics.Command{
		Version: topics.SchemaVersion, RequestID: RequestIDOf(kind, id), EventID: show, ZoneID: zone,
		IdempotencyKey: "stripe-" + kind + "-" + id, SubmittedAt: now.UTC(),
	}
	if kind == "failed" {
		cmd.Type, cmd.Release = topics.CmdReleaseHold, &topics.ReleaseHold{HoldID: hold}
		return cmd
	}
	cmd.Type = topics.CmdConfirmHold
	cmd.Confirm = &topics.ConfirmHold{HoldID: hold, Payment: &topics.Payment{IntentID: id, Amount: amount, Currency: currency}}
	return cmd
}

func intentRefs(m map[string]string) (hold, zone, show uuid.UUID, ok bool) {
	var errs [3]error
	hold, errs[0] = uuid.Parse(m[MetaHoldID])
	zone, errs[1] = uuid.Parse(m[MetaZoneID])
	show, errs[2] = uuid.Parse(m[MetaEventID])
	return hold, zone, show, errors.Join(errs[:]...) == nil
}

// requestNamespace derives request ids from intent ids.
var requestNamespace = uuid.MustParse("6f1d2a52-8d0e-4c43-9a55-5b2d3f0c7e11")

// RequestIDOf is the request id of the command an intent's event of kind
// ("succeeded", "failed") becomes: the same for every delivery, so the order a paid
// confirm creates has one id whatever the retries.
func RequestIDOf(kind, intentID string) uuid.UUID {
	return uuid.NewSHA1(requestNamespace, []byte(kind+":"+intentID))
}

// seenSet remembers up to max event ids, forgetting the oldest first.
type seenSet struct {
	mu    sync.Mutex
	max   int
	ids   map[string]struct{}
	order []string
	next  int
}

func newSeenSet(max int) *seenSet { return &seenSet{max: max, ids: make(map[string]struct{})} }

func (s *seenSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}

func (s *seenSet) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return
	}
	if len(s.order) < s.max {
		s.order = append(s.order, id)
	} else {
		delete(s.ids, s.order[s.next])
		s.order[s.next] = id
		s.next = (s.next + 1) % s.max
	}
	s.ids[id] = struct{}{}
}
