package api

import (
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

func splitLines(s string) []string { return strings.Split(s, "\n") }

// nopRegisterer accepts every collector and keeps none.
type nopRegisterer struct{}

func (nopRegisterer) Register(prometheus.Collector) error  { return nil }
func (nopRegisterer) MustRegister(...prometheus.Collector) {}
func (nopRegisterer) Unregister(prometheus.Collector) bool { return true }

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
