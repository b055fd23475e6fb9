package api

import (
	"net/http/httptest"
	"strings"
)

func splitLines(s string) []string { return strings.Split(s, "\n") }

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
