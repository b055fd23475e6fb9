package api

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestOpenAPIDocumentsEveryRouteAndNoOther(t *testing.T) {
	// Every gin route is in openapi.yaml and every path+method there is a gin
	// route, so the served document cannot drift from the server.
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q, want 3.x", doc.OpenAPI)
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}
	var documented []string
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(methods, key) {
				documented = append(documented, strings.ToUpper(key)+" "+path)
			}
		}
	}
	s, err := newServer(Config{Partitions: testPartitions}, Deps{Publisher: &fakePublisher{}, Reads: newFakeReads(),
		Ready: func(context.Context) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	var served []string
	for _, r := range s.routes().Routes() {
		served = append(served, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("openapi.yaml documents %s, which is not a route", d)
		}
	}
	if len(served) == 0 {
		t.Fatal("no routes")
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	// GET /openapi.yaml serves the embedded document.
	f := newFixture(t, Config{})
	w := f.do("GET", "/openapi.yaml", "")
	if w.Code != 200 || w.Body.String() != string(openAPIDocument) || !strings.Contains(w.Header().Get("Content-Type"), "yaml") {
		t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
	}
}
