package roombench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/pow"
)

// buyerResult is what one buyer lived through, on the client's clock.
type buyerResult struct {
	Joined, Admitted, SoldOutSeen time.Time
	Asked, Bought                 int
	Status                        string // the last status seen
	Err                           string
}

// client speaks to the system's API.
type client struct {
	url, admin string
	http       *http.Client
}

// call sends a JSON request and decodes the answer's JSON into out (when not nil).
func (c *client) call(ctx context.Context, method, path string, body any, out any, headers ...string) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %d %q: %w", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, nil
}

// retriesMax bounds a buyer's retries of one request answered 503 or 429 (with
// the same idempotency key: a retry never buys twice).
const retriesMax = 10

// retryPause is the pause before a retry, as the answers' Retry-After says.
const retryPause = time.Second

// callRetrying is call, retried while the answer is 503 or 429 or the request
// failed, up to retriesMax times.
func (c *client) callRetrying(ctx context.Context, method, path string, body any, out any, headers ...string) (int, error) {
	for attempt := 0; ; attempt++ {
		code, err := c.call(ctx, method, path, body, out, headers...)
		retry := err != nil || code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests
		if !retry || attempt == retriesMax || !sleepUntil(ctx, time.Now().Add(retryPause)) {
			return code, err
		}
	}
}

// sale is the event the crowd buys from.
type sale struct {
	eventID, zoneID string
	opensAt         time.Time
	startsAt        time.Time
}

// createSale creates the event: one zone of cfg.Tickets behind a waiting room
// admitting cfg.Rate buyers a second, the sale starting cfg.StartAfter from now.
func createSale(ctx context.Context, c *client, cfg Config) (*sale, error) {
	now := time.Now().UTC()
	s := &sale{opensAt: now.Add(-time.Second), startsAt: now.Add(cfg.StartAfter)}
	room := map[string]any{"opens_at": s.opensAt, "starts_at": s.startsAt, "rate_per_second": cfg.Rate,
		"allowance": cfg.Allowance, "shop_seconds": ShopSecondsDefault}
	if cfg.Automatic {
		room["rate_per_second"], room["rate_max"] = "automatic", cfg.Rate
	}
	var out struct {
		EventID string `json:"event_id"`
		Zones   []struct {
			ID string `json:"id"`
		} `json:"zones"`
	}
	code, err := c.call(ctx, "POST", "/events", map[string]any{"name": "Flash crowd",
		"zones":        []map[string]any{{"name": "GA", "capacity": cfg.Tickets, "hold_quantity_max": cfg.Allowance}},
		"waiting_room": room},
		&out, "Authorization", "Bearer "+c.admin, "Prefer", "wait=20")
	if err != nil || code != http.StatusCreated {
		return nil, fmt.Errorf("create the sale: %d %v", code, err)
	}
	s.eventID, s.zoneID = out.EventID, out.Zones[0].ID
	return s, nil
}

// place is the part of GET /queue/{id} a buyer reads.
type place struct {
	QueueID        string `json:"queue_id"`
	Status         string `json:"status"`
	AdmissionToken string `json:"admission_token"`
}

// buy is buyer i's whole journey: arrive, solve the challenge, join, wait for the
// admission (long polls), hold what it wants and confirm; or hear it is sold out.
func buy(ctx context.Context, c *client, s *sale, cfg Config, i int, arrive time.Time) (r buyerResult) {
	r.Asked = 1 + i%cfg.Allowance
	if !sleepUntil(ctx, arrive) {
		r.Err = "canceled"
		return r
	}
	customer := fmt.Sprintf("buyer-%06d", i)
	p, err := join(ctx, c, s, customer)
	r.Joined = time.Now()
	if err != nil {
		r.Err = err.Error()
		return r
	}
	for p.Status != "admitted" && p.Status != "sold_out" && p.Status != "admission_expired" {
		if ctx.Err() != nil {
			r.Err = "timeout while " + p.Status
			return r
		}
		id := p.QueueID
		if code, err := c.call(ctx, "GET", "/queue/"+id, nil, &p, "Prefer", "wait=20"); err != nil || code != http.StatusOK {
			time.Sleep(200 * time.Millisecond)
		}
		p.QueueID = id
	}
	r.Status = p.Status
	if p.Status == "sold_out" {
		r.SoldOutSeen = time.Now()
		return r
	}
	if p.Status != "admitted" {
		return r
	}
	r.Admitted = time.Now()
	var hold struct {
		ID string `json:"id"`
	}
	code, err := c.callRetrying(ctx, "POST", "/holds", map[string]any{"event_id": s.eventID, "zone_id": s.zoneID,
		"quantity": r.Asked, "idempotency_key": customer, "customer_id": customer}, &hold,
		"Admission-Token", p.AdmissionToken, "Prefer", "wait=10")
	if err != nil || code != http.StatusCreated {
		r.Status = fmt.Sprintf("hold %d", code)
		return r
	}
	code, err = c.callRetrying(ctx, "POST", "/holds/"+hold.ID+"/confirm", nil, nil, "Idempotency-Key", "c-"+customer, "Prefer", "wait=10")
	if err == nil && (code == http.StatusCreated || code == http.StatusOK) {
		r.Bought, r.Status = r.Asked, "bought"
	} else {
		r.Status = fmt.Sprintf("confirm %d", code)
	}
	return r
}

// join solves a challenge and joins, with a new challenge for each retry (a
// challenge is spent by the attempt that sent it).
func join(ctx context.Context, c *client, s *sale, customer string) (place, error) {
	for attempt := 0; ; attempt++ {
		var ch struct {
			Token      string `json:"token"`
			Difficulty int    `json:"difficulty"`
		}
		var p place
		code, err := c.call(ctx, "GET", "/events/"+s.eventID+"/challenge", nil, &ch)
		if err == nil && code == http.StatusOK {
			code, err = c.call(ctx, "POST", "/events/"+s.eventID+"/queue", map[string]any{"customer_id": customer,
				"challenge": ch.Token, "nonce": pow.Solve(ch.Token, ch.Difficulty)}, &p, "Prefer", "wait=10")
			if err == nil && (code == http.StatusCreated || code == http.StatusAccepted) {
				return p, nil
			}
		}
		retry := err != nil || code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests
		if !retry || attempt == retriesMax || !sleepUntil(ctx, time.Now().Add(retryPause)) {
			return p, fmt.Errorf("join: %d %v", code, err)
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// runCrowd creates the sale, sends the buyers and gathers the results.
func runCrowd(ctx context.Context, cfg Config, sys *system) (*Results, error) {
	c := &client{url: sys.url, admin: sys.adminToken, http: &http.Client{Transport: &http.Transport{
		MaxIdleConns: cfg.Joiners, MaxIdleConnsPerHost: cfg.Joiners, IdleConnTimeout: time.Minute}}}
	s, err := createSale(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	cfg.logf("==> %d buyers arrive over %v for %d tickets; the sale starts at +%v, admitting %.0f/s (automatic: %v)",
		cfg.Joiners, cfg.JoinSpread, cfg.Tickets, cfg.StartAfter, cfg.Rate, cfg.Automatic)
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	buyers := make([]buyerResult, cfg.Joiners)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range buyers {
		arrive := t0.Add(time.Duration(int64(cfg.JoinSpread) * int64(i) / int64(cfg.Joiners)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			buyers[i] = buy(ctx, c, s, cfg, i, arrive)
		}()
	}
	wg.Wait()
	cfg.logf("    the crowd is done after %v", time.Since(t0).Round(time.Millisecond))
	return analyse(context.Background(), cfg, sys, s, buyers)
}
