package hotbench

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/ultimate-ticket/ultimate-ticket/internal/loadgen"
)

// Colours of the systems.
var systemColor = map[string]color.Color{
	SystemPipeline: color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	SystemClassic:  color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

// writePlots draws hot.png (the first repeat's hot-zone steps, one after the other)
// and overload.png (the first repeat's overload run), when they ran.
func (r *Results) writePlots(dir string) error {
	for _, p := range []struct {
		scenario, file, title string
	}{
		{ScenarioHot, "hot.png", "Hot zone, one hold per request, steps up to the knee and one past it"},
		{ScenarioOverload, "overload.png", "Hot zone, overload"},
	} {
		series := map[string][]loadgen.SecondStats{}
		for _, run := range r.Runs {
			if run.Scenario == p.scenario && run.Repeat == 1 {
				if s := timeline(run); len(s) > 0 {
					series[run.System] = s
				}
			}
		}
		if len(series) == 0 {
			continue
		}
		if err := plotTimeline(filepath.Join(dir, p.file), p.title, series); err != nil {
			return fmt.Errorf("%s: %w", p.file, err)
		}
	}
	return nil
}

// timeline is a run's seconds: a fixed run's, or a step run's steps one after the
// other.
func timeline(run Trial) []loadgen.SecondStats {
	if run.Fire != nil {
		return run.Fire.PerSecond
	}
	if run.Step == nil {
		return nil
	}
	var out []loadgen.SecondStats
	for _, st := range run.Step.Steps {
		for _, s := range st.PerSecond {
			s.Second = len(out)
			out = append(out, s)
		}
	}
	return out
}

// plotTimeline draws throughput (accepted and visible holds/s) above the accepted
// answers' p99 latency, per second, a line per system.
func plotTimeline(path, title string, series map[string][]loadgen.SecondStats) error {
	thr := plot.New()
	thr.Title.Text = title + ": holds/s (solid: accepted, dashed: visible)"
	thr.X.Label.Text = "second"
	thr.Y.Label.Text = "holds/s"
	thr.Y.Min = 0
	thr.Legend.Top = true
	thr.Add(plotter.NewGrid())
	lat := plot.New()
	lat.Title.Text = "Accepted answers' p99 latency per second"
	lat.X.Label.Text = "second"
	lat.Y.Label.Text = "ms"
	lat.Y.Min = 0
	lat.Legend.Top = true
	lat.Add(plotter.NewGrid())
	for _, sys := range []string{SystemPipeline, SystemClassic} {
		secs, ok := series[sys]
		if !ok {
			continue
		}
		lines := []struct {
			p      *plot.Plot
			name   string
			dashed bool
			value  func(loadgen.SecondStats) float64
		}{
			{thr, sys + " accepted", false, func(s loadgen.SecondStats) float64 { return float64(s.Accepted) }},
			{thr, sys + " visible", true, func(s loadgen.SecondStats) float64 { return float64(s.Visible) }},
			{lat, sys, false, func(s loadgen.SecondStats) float64 { return s.AcceptedP99Ms }},
		}
		for _, l := range lines {
			xys := make(plotter.XYs, len(secs))
			for i, s := range secs {
				xys[i] = plotter.XY{X: float64(s.Second), Y: l.value(s)}
			}
			line, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			line.Color = systemColor[sys]
			line.Width = vg.Points(1.5)
			if l.dashed {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			l.p.Add(line)
			l.p.Legend.Add(l.name, line)
		}
	}
	return loadgen.WritePNG(path, 20*vg.Centimeter, thr, lat)
}
