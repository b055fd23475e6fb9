package composetest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// ticketdInstances are the ticketd services Prometheus scrapes, by instance label.
var ticketdInstances = []string{"api", "processor-1", "processor-2", "sink"}

// TestComposeStack proves that deploy/compose runs the system from the local images:
// the seed's session answers through the api service as it does in-process (the
// commands cross the 3-broker cluster, the two processors and the sink), Prometheus
// has loaded every rule of deploy/prometheus/rules and scrapes all four ticketd
// services, the two processors share the partitions, Prometheus sends alerts to the
// stack's Alertmanager, and a stopped sink turns its target-down alert pending while
// the API keeps serving. The api runs on the compose file's waiting-room keys, not
// ticketd's fallbacks. Grafana runs only when GRAFANA_IMAGE names an image present
// here; otherwise its subtest says so and skips. First, the stacks of earlier runs
// killed before their cleanup are removed.
func TestComposeStack(t *testing.T) {
	if testing.Short() {
		t.Skip("the compose stack needs Docker and docker-compose; skipped under -short")
	}
	s := newStack(t)
	if err := s.buildImages(); err != nil {
		if _, lookErr := exec.LookPath("docker-compose"); lookErr != nil {
			t.Skipf("docker-compose is not available here and could not be installed: %v", err)
		}
		t.Fatal(err)
	}
	s.removeLeftovers()
	// The whole file, every profile included, as docker-compose reads it.
	ctx, cancel := context.WithTimeout(context.Background(), downTimeout)
	out, err := s.run(ctx, nil, "docker-compose", "-f", composeFile, "--profile", "grafana", "--profile", "payments", "config", "-q")
	cancel()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	grafanaImage := os.Getenv("GRAFANA_IMAGE")
	withGrafana := grafanaImage != "" && imagePresent(grafanaImage)
	s.up(withGrafana)
	waitPublishing(t, newClient(t, s.api))

	t.Run("seed session", func(t *testing.T) { seedSession(t, newClient(t, s.api)) })
	t.Run("api has the waiting room's keys", func(t *testing.T) { checkRoomKeys(t, s) })
	t.Run("prometheus rules", func(t *testing.T) { checkRules(t, newClient(t, s.prom)) })
	t.Run("prometheus scrapes ticketd", func(t *testing.T) { checkScrapes(t, newClient(t, s.prom)) })
	t.Run("processors share the partitions", func(t *testing.T) { checkProcessors(t, newClient(t, s.prom)) })
	t.Run("alertmanager", func(t *testing.T) { checkAlertmanager(t, newClient(t, s.prom)) })
	// Last: it stops a service.
	t.Run("sink stopped: alert pending, api serving", func(t *testing.T) { checkStoppedSink(t, s) })
	t.Run("grafana", func(t *testing.T) {
		if !withGrafana {
			t.Skipf("not run here: Grafana has no local build and no image can be pulled "+
				"(GRAFANA_IMAGE=%q is not present); set GRAFANA_IMAGE to a present image to include it", grafanaImage)
		}
		checkGrafana(t, newClient(t, s.grafana))
	})
}

// promData is the data of a Prometheus API answer; the test fails unless the answer
// is 200 with status success.
func promData(t testing.TB, c *client, path string) map[string]any {
	t.Helper()
	m := c.expect(c.do("GET", path, nil), 200).json(t)
	data, _ := m["data"].(map[string]any)
	if m["status"] != "success" || data == nil {
		t.Fatalf("GET %s: %v", path, m)
	}
	return data
}

// checkRules waits until every rule of the rule files is loaded and evaluated
// without an error.
func checkRules(t *testing.T, c *client) {
	want := ruleNames(t)
	eventually(t, "every rule loaded and healthy", func() string {
		loaded := map[string]map[string]string{} // file -> rule -> health
		for _, g := range promData(t, c, "/api/v1/rules")["groups"].([]any) {
			g := g.(map[string]any)
			file := filepath.Base(g["file"].(string))
			if loaded[file] == nil {
				loaded[file] = map[string]string{}
			}
			for _, r := range g["rules"].([]any) {
				r := r.(map[string]any)
				loaded[file][r["name"].(string)] = fmt.Sprint(r["health"], " ", r["lastError"])
			}
		}
		var missing []string
		for file, names := range want {
			for _, n := range names {
				if h, ok := loaded[file][n]; !ok || !strings.HasPrefix(h, "ok") {
					missing = append(missing, fmt.Sprintf("%s %s (%q)", file, n, h))
				}
			}
		}
		return strings.Join(missing, ", ")
	})
	total := 0
	for _, names := range want {
		total += len(names)
	}
	t.Logf("%d rules of %d files loaded and evaluated", total, len(want))
}

// checkScrapes waits until every ticketd service is a healthy target of job ticketd
// and the seed session's requests show in the API's counter.
func checkScrapes(t *testing.T, c *client) {
	eventually(t, "ticketd targets up", func() string {
		up := map[string]bool{}
		for _, tg := range promData(t, c, "/api/v1/targets?state=active")["activeTargets"].([]any) {
			tg := tg.(map[string]any)
			labels := tg["labels"].(map[string]any)
			if labels["job"] == "ticketd" && tg["health"] == "up" {
				up[labels["instance"].(string)] = true
			}
		}
		var down []string
		for _, in := range ticketdInstances {
			if !up[in] {
				down = append(down, in)
			}
		}
		if len(down) > 0 {
			return "not up: " + strings.Join(down, ", ")
		}
		return ""
	})
	q := url.QueryEscape(`sum(ticket_api_http_requests_total{job="ticketd",instance="api"})`)
	eventually(t, "API requests scraped", func() string {
		res := promData(t, c, "/api/v1/query?query="+q)["result"].([]any)
		if len(res) == 1 {
			if v := res[0].(map[string]any)["value"].([]any)[1]; v != "0" {
				return ""
			}
		}
		return fmt.Sprintf("result %v", res)
	})
}

// checkProcessors waits until the two processors own all partitions between them,
// each some: two replicas of one consumer group, not one working and one idle.
func checkProcessors(t *testing.T, c *client) {
	partitions := int(topics.DefaultTopology.Partitions) // the stack leaves PARTITIONS at its default
	q := url.QueryEscape(`ticket_processor_partitions_owned{job="ticketd"}`)
	eventually(t, "partitions shared", func() string {
		owned := map[string]int{}
		sum := 0
		for _, r := range promData(t, c, "/api/v1/query?query="+q)["result"].([]any) {
			r := r.(map[string]any)
			n, _ := strconv.Atoi(r["value"].([]any)[1].(string))
			owned[r["metric"].(map[string]any)["instance"].(string)] = n
			sum += n
		}
		if owned["processor-1"] == 0 || owned["processor-2"] == 0 || sum != partitions {
			return fmt.Sprintf("partitions owned %v, want all %d shared by processor-1 and processor-2", owned, partitions)
		}
		return ""
	})
}

// checkStoppedSink stops the sink service and waits until Prometheus has the alert
// TicketdTargetDown pending for it, while the API still answers ready: the
// components are separate containers, and the rules see them by service name.
func checkStoppedSink(t *testing.T, s *stack) {
	ctx, cancel := context.WithTimeout(context.Background(), downTimeout)
	defer cancel()
	if out, err := s.run(ctx, nil, "docker-compose", "-p", s.project, "-f", composeFile, "stop", "-t", "10", "sink"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	prom, api := newClient(t, s.prom), newClient(t, s.api)
	eventually(t, "TicketdTargetDown pending for sink", func() string {
		alerts := promData(t, prom, "/api/v1/alerts")["alerts"].([]any)
		for _, a := range alerts {
			a := a.(map[string]any)
			labels := a["labels"].(map[string]any)
			if labels["alertname"] == "TicketdTargetDown" && labels["instance"] == "sink" {
				return ""
			}
		}
		return fmt.Sprintf("alerts %v", alerts)
	})
	api.expect(api.do("GET", "/ready", nil), 200)
}

// checkRoomKeys checks that the api was given the waiting room's keys by the
// compose file: ticketd warns at start when it falls back to its own development
// key or secret.
func checkRoomKeys(t *testing.T, s *stack) {
	ctx, cancel := context.WithTimeout(context.Background(), downTimeout)
	defer cancel()
	out, err := s.run(ctx, nil, "docker-compose", "-p", s.project, "-f", composeFile, "logs", "--no-color", "api")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "api listening") {
		t.Fatalf("the api's log has no start line:\n%s", out)
	}
	for _, env := range []string{"ADMISSION_SIGNING_KEY", "POW_SECRET"} {
		if strings.Contains(out, env+" is not set") {
			t.Errorf("the api runs without %s from the compose file:\n%s", env, out)
		}
	}
}

// checkAlertmanager checks that Prometheus found the stack's Alertmanager.
func checkAlertmanager(t *testing.T, c *client) {
	eventually(t, "alertmanager active", func() string {
		am := promData(t, c, "/api/v1/alertmanagers")["activeAlertmanagers"].([]any)
		if len(am) != 1 || !strings.Contains(fmt.Sprint(am[0]), "alertmanager:9093") {
			return fmt.Sprintf("active alertmanagers %v", am)
		}
		return ""
	})
}

// checkGrafana waits until Grafana is healthy and has provisioned every dashboard of
// grafana/dashboards.
func checkGrafana(t *testing.T, c *client) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "grafana/dashboards/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in grafana/dashboards: %v", err)
	}
	eventually(t, "grafana provisioned", func() string {
		r, err := c.try("GET", "/api/search?type=dash-db", nil)
		if err != nil || r.status != 200 {
			return fmt.Sprintf("search: %v %d %s", err, r.status, r.body)
		}
		if n := strings.Count(string(r.body), `"uid"`); n < len(files) {
			return fmt.Sprintf("%d dashboards, want %d: %s", n, len(files), r.body)
		}
		return ""
	})
}
