package app

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// replacing registers on a shared registry for components that are restarted: a
// collector registered again by a new run replaces the previous run's (its
// counters start again from zero, which Prometheus reads as a reset).
type replacing struct{ reg *prometheus.Registry }

func (r replacing) Register(c prometheus.Collector) error {
	err := r.reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		r.reg.Unregister(are.ExistingCollector)
		return r.reg.Register(c)
	}
	return err
}

func (r replacing) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r replacing) Unregister(c prometheus.Collector) bool { return r.reg.Unregister(c) }

// bridge exposes what a gatherer gathers as a collector, so that an API run with a
// registry of its own (the API registers on a concrete registry, once per run)
// still serves the metrics of the other components of the process.
type bridge struct{ g prometheus.Gatherer }

// Describe sends nothing: the bridge is an unchecked collector.
func (bridge) Describe(chan<- *prometheus.Desc) {}

func (b bridge) Collect(ch chan<- prometheus.Metric) {
	families, _ := b.g.Gather() // a partial answer is still worth serving
	for _, f := range families {
		for _, m := range f.GetMetric() {
			names, values := make([]string, 0, len(m.GetLabel())), make([]string, 0, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				names, values = append(names, l.GetName()), append(values, l.GetValue())
			}
			desc := prometheus.NewDesc(f.GetName(), f.GetHelp(), names, nil)
			if pm, err := constMetric(desc, f.GetType(), m, values); err == nil {
				ch <- pm
			}
		}
	}
}

func constMetric(desc *prometheus.Desc, typ dto.MetricType, m *dto.Metric, lvs []string) (prometheus.Metric, error) {
	switch typ {
	case dto.MetricType_COUNTER:
		return prometheus.NewConstMetric(desc, prometheus.CounterValue, m.GetCounter().GetValue(), lvs...)
	case dto.MetricType_GAUGE:
		return prometheus.NewConstMetric(desc, prometheus.GaugeValue, m.GetGauge().GetValue(), lvs...)
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		buckets := make(map[float64]uint64, len(h.GetBucket()))
		for _, b := range h.GetBucket() {
			buckets[b.GetUpperBound()] = b.GetCumulativeCount()
		}
		return prometheus.NewConstHistogram(desc, h.GetSampleCount(), h.GetSampleSum(), buckets, lvs...)
	case dto.MetricType_SUMMARY:
		s := m.GetSummary()
		q := make(map[float64]float64, len(s.GetQuantile()))
		for _, x := range s.GetQuantile() {
			q[x.GetQuantile()] = x.GetValue()
		}
		return prometheus.NewConstSummary(desc, s.GetSampleCount(), s.GetSampleSum(), q, lvs...)
	default:
		return prometheus.NewConstMetric(desc, prometheus.UntypedValue, m.GetUntyped().GetValue(), lvs...)
	}
}
