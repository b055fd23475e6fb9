package roombench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/ultimate-ticket/ultimate-ticket/internal/loadgen"
)

// Results are one flash crowd's figures.
type Results struct {
	Joiners    int     `json:"joiners"`
	Tickets    int     `json:"tickets"`
	Rate       float64 `json:"rate_per_second"`
	Automatic  bool    `json:"automatic"` // Rate is then the cap
	Allowance  int     `json:"allowance"`
	Difficulty int     `json:"pow_difficulty"`
	PreQueue   int     `json:"pre_queue"`

	Admitted      int     `json:"admitted"`
	Buyers        int     `json:"buyers"` // admitted buyers who bought
	Sold          int64   `json:"sold"`
	SoldOutNotice int     `json:"sold_out_notices"`
	Errors        int     `json:"errors"`
	SellOutSecs   float64 `json:"sell_out_seconds"` // from the start to queue.sold_out; -1: not sold out

	WaitP50  float64 `json:"wait_p50_seconds"` // joined to admitted, processor time
	WaitP99  float64 `json:"wait_p99_seconds"`
	WaitMax  float64 `json:"wait_max_seconds"`
	RateMean float64 `json:"admission_rate_mean"` // over the whole admitting seconds (see steadyRate)
	RateMax  int     `json:"admission_rate_max_second"`
	Accuracy float64 `json:"admission_rate_accuracy"` // RateMean / Rate

	NoticeLagP99 float64 `json:"sold_out_notice_lag_p99_seconds"` // queue.sold_out to a waiting buyer seeing it
	NoticeLagMax float64 `json:"sold_out_notice_lag_max_seconds"`

	Oversold   bool   `json:"oversold"`
	Invariants string `json:"invariants"` // "ok" or what failed

	PerSecond []int     `json:"admissions_per_second"` // from the start
	SoldAt    []float64 `json:"sold_at_seconds"`       // each order's time from the start, with its quantity below
	SoldQty   []int64   `json:"sold_quantity"`
	FirstErr  string    `json:"first_error,omitempty"`
}

// analyse reads the read model after the crowd and checks what was sold.
func analyse(ctx context.Context, cfg Config, sys *system, s *sale, buyers []buyerResult) (*Results, error) {
	r := &Results{Joiners: cfg.Joiners, Tickets: cfg.Tickets, Rate: cfg.Rate, Automatic: cfg.Automatic, Allowance: cfg.Allowance,
		Difficulty: cfg.Difficulty, SellOutSecs: -1}
	var started, soldOutAt *time.Time
	var pre *int64
	if err := sys.pool.QueryRow(ctx, `SELECT started_at, sold_out_at, pre_queue_size FROM waiting_rooms WHERE event_id = $1`,
		s.eventID).Scan(&started, &soldOutAt, &pre); err != nil {
		return nil, fmt.Errorf("read the room: %w", err)
	}
	start := s.startsAt
	if started != nil {
		start = *started
	}
	if pre != nil {
		r.PreQueue = int(*pre)
	}
	if soldOutAt != nil {
		r.SellOutSecs = round(soldOutAt.Sub(start).Seconds())
	}
	if err := r.admissions(ctx, sys, s, start); err != nil {
		return nil, err
	}
	if err := r.check(ctx, sys, s, start); err != nil {
		return nil, err
	}
	var lags []float64
	for _, b := range buyers {
		switch {
		case b.Err != "":
			r.Errors++
			if r.FirstErr == "" {
				r.FirstErr = b.Err
			}
		case b.Bought > 0:
			r.Buyers++
		case b.Status == "sold_out":
			r.SoldOutNotice++
			if soldOutAt != nil {
				lags = append(lags, math.Max(0, b.SoldOutSeen.Sub(*soldOutAt).Seconds()))
			}
		}
	}
	r.NoticeLagP99, r.NoticeLagMax = quantile(lags, 0.99), quantile(lags, 1)
	return r, nil
}

// admissions reads every admission of the room: waits and the rate per second.
func (r *Results) admissions(ctx context.Context, sys *system, s *sale, start time.Time) error {
	rows, err := sys.pool.Query(ctx, `SELECT joined_at, admitted_at FROM queue_entries
		WHERE event_id = $1 AND admitted_at IS NOT NULL ORDER BY admitted_at`, s.eventID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var waits []float64
	var first, last time.Time
	for rows.Next() {
		var joined, admitted time.Time
		if err := rows.Scan(&joined, &admitted); err != nil {
			return err
		}
		waits = append(waits, admitted.Sub(joined).Seconds())
		sec := max(0, int(admitted.Sub(start).Seconds()))
		for len(r.PerSecond) <= sec {
			r.PerSecond = append(r.PerSecond, 0)
		}
		r.PerSecond[sec]++
		if first.IsZero() {
			first = admitted
		}
		last = admitted
	}
	if err := rows.Err(); err != nil {
		return err
	}
	r.Admitted = len(waits)
	r.WaitP50, r.WaitP99, r.WaitMax = quantile(waits, 0.5), quantile(waits, 0.99), quantile(waits, 1)
	r.RateMean = steadyRate(r.PerSecond)
	if d := last.Sub(first).Seconds(); r.RateMean == 0 && len(waits) > 1 && d > 0 {
		r.RateMean = round(float64(len(waits)-1) / d) // n admissions span n−1 intervals
	}
	r.Accuracy = round(r.RateMean / r.Rate)
	r.RateMax = slices.Max(append([]int{0}, r.PerSecond...))
	return nil
}

// check verifies that nothing was oversold: the zone's inventory adds up, its
// sold tickets are the orders', and no buyer has more than the allowance.
func (r *Results) check(ctx context.Context, sys *system, s *sale, start time.Time) error {
	var capacity, available, held, sold, ordered, perBuyerMax int64
	if err := sys.pool.QueryRow(ctx, `SELECT capacity, available, held, sold FROM zones WHERE id = $1`, s.zoneID).
		Scan(&capacity, &available, &held, &sold); err != nil {
		return fmt.Errorf("read the zone: %w", err)
	}
	if err := sys.pool.QueryRow(ctx, `SELECT COALESCE(SUM(q), 0), COALESCE(MAX(q), 0) FROM
		(SELECT customer_id, SUM(quantity) AS q FROM orders WHERE zone_id = $1 GROUP BY customer_id) c`, s.zoneID).Scan(&ordered, &perBuyerMax); err != nil {
		return fmt.Errorf("read the orders: %w", err)
	}
	var bad []string
	if available+held+sold != capacity || available < 0 || held < 0 || sold < 0 {
		bad = append(bad, fmt.Sprintf("inventory %d+%d+%d != %d", available, held, sold, capacity))
	}
	if sold > int64(r.Tickets) || ordered != sold {
		bad = append(bad, fmt.Sprintf("sold %d, ordered %d, tickets %d", sold, ordered, r.Tickets))
	}
	if perBuyerMax > int64(r.Allowance) {
		bad = append(bad, fmt.Sprintf("a buyer has %d tickets, over the allowance %d", perBuyerMax, r.Allowance))
	}
	r.Sold, r.Oversold = sold, sold > int64(r.Tickets) || ordered > int64(r.Tickets)
	r.Invariants = "ok"
	if len(bad) > 0 {
		r.Invariants = strings.Join(bad, "; ")
	}
	rows, err := sys.pool.Query(ctx, `SELECT created_at, quantity FROM orders WHERE zone_id = $1 ORDER BY created_at`, s.zoneID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var at time.Time
		var q int64
		if err := rows.Scan(&at, &q); err != nil {
			return err
		}
		r.SoldAt, r.SoldQty = append(r.SoldAt, round(at.Sub(start).Seconds())), append(r.SoldQty, q)
	}
	return rows.Err()
}

// steadyRate is the mean admissions per second over the whole seconds between the
// first and the last second with admissions, both left out: the first holds the
// bucket's burst (the pre-queue admitted at once), the last is partial. 0 when
// fewer than three seconds admitted.
func steadyRate(perSecond []int) float64 {
	first, last := -1, -1
	for i, n := range perSecond {
		if n > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if last-first < 2 {
		return 0
	}
	sum := 0
	for _, n := range perSecond[first+1 : last] {
		sum += n
	}
	return round(float64(sum) / float64(last-first-1))
}

func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return round(s[min(max(i, 0), len(s)-1)])
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// Markdown is the results as the table of bench/results/room/room.md.
func (r *Results) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Flash crowd: %d buyers for %d tickets behind a waiting room\n\n", r.Joiners, r.Tickets)
	mode := fmt.Sprintf("Admission at %.0f buyers/s", r.Rate)
	if r.Automatic {
		mode = fmt.Sprintf("Automatic admission (while admitted buyers may buy less than what is left), at most %.0f buyers/s", r.Rate)
	}
	fmt.Fprintf(&b, "%s, %d tickets per admission (buyer i asks for 1 + i %% %d), proof of work %d bits; "+
		"%d buyers joined before the start (the shuffled pre-queue).\n\n", mode, r.Allowance, r.Allowance, r.Difficulty, r.PreQueue)
	sellOut := "not sold out"
	if r.SellOutSecs >= 0 {
		sellOut = fmt.Sprintf("%.1f s", r.SellOutSecs)
	}
	rows := [][2]string{
		{"time to sell out (start to queue.sold_out)", sellOut},
		{"tickets sold / capacity", fmt.Sprintf("%d / %d", r.Sold, r.Tickets)},
		{"buyers admitted / bought", fmt.Sprintf("%d / %d", r.Admitted, r.Buyers)},
		{"wait joined to admitted p50 / p99 / max", fmt.Sprintf("%.2f s / %.2f s / %.2f s", r.WaitP50, r.WaitP99, r.WaitMax)},
		{"admission rate, steady seconds (accuracy) / busiest second", fmt.Sprintf("%.1f/s (%.0f%% of %.0f/s) / %d", r.RateMean, 100*r.Accuracy, r.Rate, r.RateMax)},
		{"waiting buyers told sold_out", fmt.Sprint(r.SoldOutNotice)},
		{"sold-out notice lag p99 / max", fmt.Sprintf("%.2f s / %.2f s (bound %v)", r.NoticeLagP99, r.NoticeLagMax, soldOutNoticeMaxWait)},
		{"oversold", fmt.Sprint(r.Oversold)},
		{"invariants (inventory adds up, orders = sold, allowance per buyer)", r.Invariants},
		{"buyers with an error", fmt.Sprint(r.Errors)},
	}
	b.WriteString("| measure | value |\n|---|---|\n")
	for _, row := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", row[0], row[1])
	}
	if r.FirstErr != "" {
		fmt.Fprintf(&b, "\nFirst error: `%s`\n", r.FirstErr)
	}
	return b.String()
}

// Write writes results.json, room.md and room.png to dir.
func (r *Results) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "room.md"), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	return r.plot(filepath.Join(dir, "room.png"))
}

// plot draws the admissions per second against the configured rate, and the
// tickets sold over time, both from the start of the sale.
func (r *Results) plot(path string) error {
	top := plot.New()
	top.Title.Text = fmt.Sprintf("Admissions per second (configured %.0f/s)", r.Rate)
	top.X.Label.Text, top.Y.Label.Text = "seconds since the start", "admitted"
	adm := make(plotter.XYs, len(r.PerSecond))
	for i, n := range r.PerSecond {
		adm[i] = plotter.XY{X: float64(i), Y: float64(n)}
	}
	rate := plotter.XYs{{X: 0, Y: r.Rate}, {X: float64(max(1, len(r.PerSecond))), Y: r.Rate}}
	if err := addLines(top, "admitted", adm, "configured rate", rate); err != nil {
		return err
	}
	top.Y.Min, top.Y.Max = 0, 1.25*math.Max(r.Rate, float64(r.RateMax))
	bottom := plot.New()
	bottom.Title.Text = fmt.Sprintf("Tickets sold (of %d)", r.Tickets)
	bottom.X.Label.Text, bottom.Y.Label.Text = "seconds since the start", "sold"
	sold := make(plotter.XYs, 0, len(r.SoldAt)+1)
	sold = append(sold, plotter.XY{})
	var total int64
	for i, at := range r.SoldAt {
		total += r.SoldQty[i]
		sold = append(sold, plotter.XY{X: at, Y: float64(total)})
	}
	capLine := plotter.XYs{{X: 0, Y: float64(r.Tickets)}, {X: math.Max(1, sold[len(sold)-1].X), Y: float64(r.Tickets)}}
	if err := addLines(bottom, "sold", sold, "capacity", capLine); err != nil {
		return err
	}
	return loadgen.WritePNG(path, 18*vg.Centimeter, top, bottom)
}

func addLines(p *plot.Plot, name string, xys plotter.XYs, refName string, ref plotter.XYs) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	rl, err := plotter.NewLine(ref)
	if err != nil {
		return err
	}
	rl.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(l, rl)
	p.Legend.Add(name, l)
	p.Legend.Add(refName, rl)
	p.Legend.Top = true
	return nil
}
