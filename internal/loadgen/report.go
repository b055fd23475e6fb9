package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// OpResults are the figures of one kind of request.
type OpResults struct {
	Sent      int            `json:"sent"`
	Decided   int            `json:"decided"`
	Succeeded int            `json:"succeeded"`
	Rejected  map[string]int `json:"rejected"` // by reason
	Errors    map[string]int `json:"errors"`   // by kind
	// Submit is POST until its 202; Visible is POST until GET /requests/{id}
	// showed the decided result (decided requests only).
	Submit  Summary `json:"submit_latency"`
	Visible Summary `json:"submit_to_visible_latency"`
}

// Results are a run's figures, written to results.json.
type Results struct {
	URL          string    `json:"url"`
	StartedAt    time.Time `json:"started_at"`
	RateTarget   float64   `json:"rate_target_per_s"`
	RateAchieved float64   `json:"rate_achieved_per_s"`
	DecidedRate  float64   `json:"holds_decided_per_s"`
	SendSeconds  float64   `json:"send_seconds"`
	Zones        int       `json:"zones"`
	Capacity     int64     `json:"capacity_per_zone"`
	Concurrency  int       `json:"concurrency"`
	PollMillis   float64   `json:"poll_interval_ms"`
	// PollOnly: submits answered 202 and were polled; otherwise they waited
	// (Prefer: wait) and the submit latency is the submit-to-visible latency.
	PollOnly       bool      `json:"poll_only"`
	ConfirmRatio   float64   `json:"confirm_ratio"`
	ReleaseRatio   float64   `json:"release_ratio"`
	Shed           int64     `json:"shed"` // sends skipped: concurrency bound reached
	ErrorsTotal    int       `json:"errors_total"`
	Holds          OpResults `json:"holds"`
	Confirms       OpResults `json:"confirms"`
	Releases       OpResults `json:"releases"`
	SamplesDropped int       `json:"samples_dropped,omitempty"`

	samples []Sample
}

func (r *runner) results(sendPhase time.Duration) *Results {
	r.mu.Lock()
	samples := slices.Clone(r.samples)
	r.mu.Unlock()
	res := &Results{
		URL: r.base, StartedAt: r.start.UTC(), RateTarget: r.cfg.Rate, SendSeconds: sendPhase.Seconds(), PollOnly: r.cfg.PollOnly,
		Zones: r.cfg.Zones, Capacity: r.cfg.Capacity, Concurrency: r.cfg.Concurrency,
		PollMillis: ms(r.cfg.Poll), ConfirmRatio: r.cfg.ConfirmRatio, ReleaseRatio: r.cfg.ReleaseRatio,
		Shed: r.shed.Load(), samples: samples,
	}
	if dropped := int(r.decided.Load()+r.errs.Load()) - len(samples); dropped > 0 {
		res.SamplesDropped = dropped
	}
	res.Holds = opResults(samples, OpHold)
	res.Confirms = opResults(samples, OpConfirm)
	res.Releases = opResults(samples, OpRelease)
	res.ErrorsTotal = sum(res.Holds.Errors) + sum(res.Confirms.Errors) + sum(res.Releases.Errors)
	if sendPhase > 0 {
		res.RateAchieved = round3(float64(res.Holds.Sent) / sendPhase.Seconds())
		res.DecidedRate = round3(float64(res.Holds.Decided) / sendPhase.Seconds())
	}
	res.SendSeconds = round3(res.SendSeconds)
	return res
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func opResults(samples []Sample, op Op) OpResults {
	o := OpResults{Rejected: map[string]int{}, Errors: map[string]int{}}
	var submit, visible []time.Duration
	for _, s := range samples {
		if s.Op != op {
			continue
		}
		o.Sent++
		submit = append(submit, s.Submit)
		switch s.Outcome {
		case OutcomeSucceeded:
			o.Decided++
			o.Succeeded++
			visible = append(visible, s.Visible)
		case OutcomeRejected:
			o.Decided++
			o.Rejected[s.Reason]++
			visible = append(visible, s.Visible)
		default:
			o.Errors[s.Reason]++
		}
	}
	o.Submit, o.Visible = Summarize(submit), Summarize(visible)
	return o
}

// Write writes results.json, latency.csv and latency.png into dir.
func (res *Results) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	if err := res.writeCSV(filepath.Join(dir, "latency.csv")); err != nil {
		return err
	}
	return res.writePlot(filepath.Join(dir, "latency.png"))
}

func (res *Results) writeCSV(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "op,start_ms,submit_ms,visible_ms,outcome,reason")
	for _, s := range res.samples {
		vis := ""
		if s.Outcome != OutcomeError {
			vis = strconv.FormatFloat(ms(s.Visible), 'f', 3, 64)
		}
		fmt.Fprintf(w, "%s,%.3f,%.3f,%s,%s,%s\n", s.Op, ms(s.Start), ms(s.Submit), vis, s.Outcome, s.Reason)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Window is the percentiles of the holds submitted in one second of the run.
type Window struct {
	Second        int
	Count         int
	P50, P90, P99 float64 // submit-to-visible, ms
	SubmitP99     float64
}

// Windows groups the decided holds by the second they were submitted in.
func Windows(samples []Sample) []Window {
	var vis, sub [][]time.Duration
	for _, s := range samples {
		if s.Op != OpHold || s.Outcome == OutcomeError {
			continue
		}
		sec := int(s.Start / time.Second)
		for len(vis) <= sec {
			vis, sub = append(vis, nil), append(sub, nil)
		}
		vis[sec] = append(vis[sec], s.Visible)
		sub[sec] = append(sub[sec], s.Submit)
	}
	var out []Window
	for sec := range vis {
		if len(vis[sec]) == 0 {
			continue
		}
		v, s := Summarize(vis[sec]), Summarize(sub[sec])
		out = append(out, Window{Second: sec, Count: v.Count, P50: v.P50, P90: v.P90, P99: v.P99, SubmitP99: s.P99})
	}
	return out
}

func (res *Results) writePlot(path string) error {
	windows := Windows(res.samples)
	over := plot.New()
	over.Title.Text = fmt.Sprintf("Hold submit-to-visible latency per second, %.0f holds/s offered, %d zone(s)",
		res.RateTarget, res.Zones)
	over.X.Label.Text = "second of the run (by submit time)"
	over.Y.Label.Text = "latency (ms)"
	over.Y.Min = 0
	over.Legend.Top = true
	over.Add(plotter.NewGrid())
	series := []struct {
		name  string
		color color.Color
		value func(Window) float64
	}{
		{"p50", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, func(w Window) float64 { return w.P50 }},
		{"p90", color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, func(w Window) float64 { return w.P90 }},
		{"p99", color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, func(w Window) float64 { return w.P99 }},
		{"submit (202) p99", color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, func(w Window) float64 { return w.SubmitP99 }},
	}
	if !res.PollOnly {
		series = series[:3] // a waited submit's latency is the submit-to-visible one
	}
	for _, s := range series {
		xys := make(plotter.XYs, len(windows))
		for i, w := range windows {
			xys[i] = plotter.XY{X: float64(w.Second), Y: s.value(w)}
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color = s.color
		l.Width = vg.Points(1.5)
		over.Add(l)
		over.Legend.Add(s.name, l)
	}

	hist := plot.New()
	var vis []time.Duration
	for _, s := range res.samples {
		if s.Op == OpHold && s.Outcome != OutcomeError {
			vis = append(vis, s.Visible)
		}
	}
	slices.Sort(vis)
	clip := Percentile(vis, 99.9)
	values := make(plotter.Values, 0, len(vis))
	for _, v := range vis {
		values = append(values, ms(min(v, clip)))
	}
	hist.Title.Text = fmt.Sprintf("Hold submit-to-visible latency, %d decided (values above p99.9 = %.1f ms shown at p99.9)",
		len(vis), ms(clip))
	hist.X.Label.Text = "latency (ms)"
	hist.Y.Label.Text = "holds"
	if len(values) > 0 {
		h, err := plotter.NewHist(values, 60)
		if err != nil {
			return err
		}
		h.FillColor = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
		hist.Add(h)
	}

	return WritePNG(path, 22*vg.Centimeter, over, hist)
}

// WritePNG draws two plots one above the other, 25 cm wide and height tall, into
// the PNG file path.
func WritePNG(path string, height vg.Length, top, bottom *plot.Plot) error {
	const width = 25 * vg.Centimeter
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadY: vg.Millimeter * 6}
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Print writes a short human summary.
func (res *Results) Print(w *os.File) {
	fmt.Fprintf(w, "holds: offered %.0f/s, sent %d at %.1f/s, decided %d (%d succeeded), errors %d, shed %d\n",
		res.RateTarget, res.Holds.Sent, res.RateAchieved, res.Holds.Decided, res.Holds.Succeeded, res.ErrorsTotal, res.Shed)
	for _, o := range []struct {
		name string
		r    OpResults
	}{{"hold", res.Holds}, {"confirm", res.Confirms}, {"release", res.Releases}} {
		if o.r.Sent == 0 {
			continue
		}
		v, s := o.r.Visible, o.r.Submit
		fmt.Fprintf(w, "%-8s n=%-7d submit-to-visible ms p50 %.2f p90 %.2f p99 %.2f max %.2f",
			o.name, o.r.Sent, v.P50, v.P90, v.P99, v.Max)
		if res.PollOnly {
			fmt.Fprintf(w, " | submit(202) ms p50 %.2f p99 %.2f", s.P50, s.P99)
		}
		fmt.Fprintln(w)
		if len(o.r.Rejected) > 0 || len(o.r.Errors) > 0 {
			fmt.Fprintf(w, "%-8s rejected %v errors %v\n", "", o.r.Rejected, o.r.Errors)
		}
	}
}
