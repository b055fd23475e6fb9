package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ultimate-ticket/ultimate-ticket/internal/app"
	"github.com/ultimate-ticket/ultimate-ticket/internal/stripemock"
	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
)

const (
	prometheusBin  = "/usr/bin/prometheus" // Debian package `prometheus`, installed by `make deps`
	promtoolBin    = "/usr/bin/promtool"
	dashboardsDir  = "../../grafana/dashboards"
	deployPromConf = "../../deploy/prometheus/prometheus.yml"
	// promJob is the scrape job name; the dashboards' instance variable selects on it.
	promJob = "ticketd"
)

// grafanaBuiltins stands in for Grafana's interval variables. The test's Prometheus
// scrapes every second and the whole test fits in a minute, so a 1m rate window covers
// all the traffic the test drives with dozens of samples.
var grafanaBuiltins = []struct{ name, value string }{
	{"__rate_interval", "1m"},
	{"__interval_ms", "15000"},
	{"__interval", "15s"},
	{"__range_ms", "300000"},
	{"__range_s", "300"},
	{"__range", "5m"},
}

// TestDashboards proves that every query of every Grafana dashboard in grafana/dashboards/
// returns data from a real Prometheus scraping a running system that has sold, confirmed,
// released, expired, rejected and rate-limited holds, and that each metric it names exists.
// The Prometheus evaluates the rule files of deploy/prometheus/prometheus.yml, as a
// deployed one does: dashboards may read recording rules, and every rule must evaluate
// without error against the real metrics.
func TestDashboards(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka, Postgres and Prometheus; skipped under -short")
	}
	if _, err := os.Stat(prometheusBin); err != nil {
		t.Fatalf("%s not found: run `make deps` (installs Debian's prometheus package)", prometheusBin)
	}
	dashboards := loadDashboards(t)
	if out, err := exec.Command(promtoolBin, "check", "config", deployPromConf).CombinedOutput(); err != nil {
		t.Errorf("promtool check config %s: %v\n%s", deployPromConf, err, out)
	}

	// Prometheus starts first, on the system's address-to-be, and boots meanwhile; the
	// shared Postgres starts beside Kafka rather than after it.
	start := time.Now()
	addr := freeAddr(t)
	prom := startPrometheus(t, addr)
	warm := make(chan struct{})
	go func() {
		defer close(warm)
		testenv.Postgres(&backgroundTB{TB: t})
	}()
	mock := stripemock.ForTest(t) // payments on, for grafana/dashboards/payments.json
	s := startSystem(t, func(c *app.Config) {
		c.HTTPAddr = addr
		c.RateLimit, c.RateBurst = 100, 50
		c.Payments.StripeSecretKey, c.Payments.StripeAPIURL = stripemock.SecretKey, mock.URL
		c.Payments.WebhookSecret = e2eWebhookSecret
	})
	<-warm
	t.Logf("system ready in %s", time.Since(start).Round(time.Millisecond))
	prom.waitUp(t)
	t.Logf("prometheus scraping after %s", time.Since(start).Round(time.Millisecond))

	expiring := driveTraffic(t, s)
	driveRoomTraffic(t, s)
	s.eventually(func() bool {
		r := s.do("GET", "/holds/"+expiring, nil)
		return r.status == http.StatusOK && r.json(t)["status"] == "expired"
	}, "hold %s expired", expiring)
	submitAgain(t, s, prom, expiring)
	// Two scrapes after the last change, so that rate() has two samples of every series;
	// then an evaluation of every rule group after those, for the recording rules the
	// SLO dashboard reads.
	prom.waitScrapedAfter(t, time.Now().Add(2*time.Second))
	prom.waitRulesEvaluatedAfter(t, time.Now())
	t.Logf("traffic driven and scraped after %s", time.Since(start).Round(time.Millisecond))

	names := prom.metricNames(t)
	for _, d := range dashboards {
		vars := d.variables(t)
		for _, v := range d.Templating.List {
			if sel, label, ok := labelValuesQuery(v.queryString()); ok {
				if vals := prom.labelValues(t, label, sel); len(vals) == 0 {
					t.Errorf("%s: variable %s: label_values(%s, %s) has no values", d.file, v.Name, sel, label)
				}
			}
		}
		checked := 0
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					if !tg.Hide {
						t.Errorf("%s: panel %q target %s has no expr", d.file, p.Title, tg.RefID)
					}
					continue
				}
				checked++
				where := fmt.Sprintf("%s: panel %q target %s", d.file, p.Title, tg.RefID)
				expr := substitute(tg.Expr, vars)
				if strings.ContainsAny(expr, "$") || strings.Contains(expr, "[[") {
					t.Errorf("%s: unresolved variable in %s", where, expr)
					continue
				}
				for _, n := range metricsIn(expr) {
					if !names[n] {
						t.Errorf("%s: metric %s does not exist (query %s)", where, n, expr)
					}
				}
				res, err := prom.query(expr)
				switch {
				case err != nil:
					t.Errorf("%s: %v", where, err)
				case len(res) == 0:
					t.Errorf("%s: no data for %s", where, expr)
				default:
					t.Logf("%s = %s", where, summarize(res))
				}
			}
		}
		if checked == 0 {
			t.Errorf("%s: no queries", d.file)
		}
		t.Logf("%s: %d queries checked", d.file, checked)
	}
}

// backgroundTB lets a helper that may call Fatal run in a goroutine of its own: a
// failure is logged and ends only that goroutine (the main goroutine meets it again).
type backgroundTB struct{ testing.TB }

func (b *backgroundTB) Fatal(args ...any) {
	b.TB.Log(append([]any{"background:"}, args...)...)
	runtime.Goexit()
}

func (b *backgroundTB) Fatalf(format string, args ...any) {
	b.TB.Logf("background: "+format, args...)
	runtime.Goexit()
}

// driveTraffic makes every kind of hold outcome and some 429s, and returns the id of a
// hold that is left to expire (zone TTL 10 s, the processor's minimum).
func driveTraffic(t *testing.T, s *system) string {
	t.Helper()
	wait := []string{"Prefer", "wait=5"}
	r := s.expect(s.do("POST", "/events", map[string]any{"name": "Dashboards", "zones": []map[string]any{
		{"name": "expiring", "capacity": 10, "hold_ttl_seconds": 10},
		{"name": "tiny", "capacity": 1},
	}}, "Authorization", "Bearer "+adminToken), http.StatusAccepted)
	ev := r.json(t)
	eventID := ev["event_id"].(string)
	var zones []string
	for _, z := range ev["zones"].([]any) {
		zones = append(zones, z.(map[string]any)["id"].(string))
	}
	s.eventually(func() bool {
		r := s.do("GET", "/events/"+eventID+"/availability", nil)
		if r.status != http.StatusOK {
			return false
		}
		zs, _ := r.json(t)["zones"].([]any)
		return len(zs) == 2
	}, "event %s visible", eventID)
	hold := func(zone string, qty int, key string, status int, hdrs ...string) map[string]any {
		return s.expect(s.do("POST", "/holds", map[string]any{"event_id": eventID, "zone_id": zone,
			"quantity": qty, "idempotency_key": key}, hdrs...), status).json(t)
	}

	// Placed and left to expire first, so that the TTL runs during the rest.
	expiring := hold(zones[0], 1, "dash-expire", http.StatusCreated, wait...)["id"].(string)
	// Placed, then confirmed.
	confirmed := hold(zones[0], 2, "dash-confirm", http.StatusCreated, wait...)["id"].(string)
	s.expect(s.do("POST", "/holds/"+confirmed+"/confirm", nil, "Idempotency-Key", "dash-confirm-1",
		"Prefer", "wait=5"), http.StatusCreated)
	// The last ticket of a zone held, a second hold rejected, the first released.
	last := hold(zones[1], 1, "dash-last", http.StatusCreated, wait...)["id"].(string)
	hold(zones[1], 1, "dash-sold-out", http.StatusConflict, wait...)
	s.expect(s.do("DELETE", "/holds/"+last, nil, wait...), http.StatusOK)
	// Submit and poll, without a wait.
	id := hold(zones[0], 1, "dash-poll", http.StatusAccepted)["request_id"].(string)
	if res := s.poll("/requests/" + id); res["status"] != "succeeded" {
		t.Fatalf("polled hold: %v", res)
	}

	// A burst from one client until the rate limit (100/s, burst 50) answers 429.
	var limited atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(20 * time.Second)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for limited.Load() < 20 && time.Now().Before(deadline) {
				resp, err := http.Get(s.url + "/events/" + eventID)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					limited.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if limited.Load() == 0 {
		t.Fatal("no 429 from a burst over the rate limit")
	}
	time.Sleep(time.Second) // the bucket fills again
	return expiring
}

// submitAgain places and releases two more waited holds in the zone of the hold
// given, once Prometheus has scraped the submit series driveTraffic created. A series
// is first scraped with its count so far, and rate() sees no increase before that
// sample: without these submits the SLO queries, rates of the submit series, would
// all be 0/0.
func submitAgain(t *testing.T, s *system, prom *prometheus, holdID string) {
	t.Helper()
	h := s.expect(s.do("GET", "/holds/"+holdID, nil), http.StatusOK).json(t)
	prom.waitScrapedAfter(t, time.Now())
	for i := range 2 {
		r := s.expect(s.do("POST", "/holds", map[string]any{"event_id": h["event_id"], "zone_id": h["zone_id"],
			"quantity": 1, "idempotency_key": fmt.Sprintf("dash-again-%d", i)}, "Prefer", "wait=5"), http.StatusCreated)
		s.expect(s.do("DELETE", "/holds/"+r.json(t)["id"].(string), nil, "Prefer", "wait=5"), http.StatusOK)
	}
}

// prometheus is a Prometheus server run as a child process of the test.
type prometheus struct {
	url string
	cmd *exec.Cmd
	log *bytes.Buffer
}

func startPrometheus(t *testing.T, target string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	rules, err := json.Marshal(ruleFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: %s
scrape_configs:
  - job_name: %s
    static_configs:
      - targets: [%q]
`, rules, promJob, target)
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := &prometheus{url: "http://" + addr, log: &bytes.Buffer{}}
	p.cmd = exec.Command(prometheusBin,
		"--config.file="+confPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
			t.Error("prometheus did not stop within 10 s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-done:
			t.Fatalf("prometheus exited: %v\n%s", err, p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30 s\n%s", p.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sample is one element of an instant vector.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query now and returns its samples (a scalar is one sample).
func (p *prometheus) query(expr string) ([]sample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.api("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, fmt.Errorf("query %s: %w", expr, err)
	}
	switch data.ResultType {
	case "vector":
		var v []sample
		err := json.Unmarshal(data.Result, &v)
		return v, err
	case "scalar":
		var v [2]any
		err := json.Unmarshal(data.Result, &v)
		return []sample{{Value: v}}, err
	default:
		return nil, fmt.Errorf("query %s: result type %s, want vector or scalar", expr, data.ResultType)
	}
}

func (p *prometheus) api(path string, params url.Values, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", p.url+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: HTTP %d: %w", path, resp.StatusCode, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", path, body.Error)
	}
	return json.Unmarshal(body.Data, out)
}

// waitUp waits until the system's target has been scraped successfully.
func (p *prometheus) waitUp(t *testing.T) {
	t.Helper()
	p.waitFor(t, 30*time.Second, "target up", func(up float64, _ time.Time) bool { return up == 1 })
}

// waitScrapedAfter waits for a successful scrape that started after at.
func (p *prometheus) waitScrapedAfter(t *testing.T, at time.Time) {
	t.Helper()
	p.waitFor(t, 30*time.Second, "a scrape after "+at.Format(time.RFC3339Nano),
		func(up float64, ts time.Time) bool { return up == 1 && ts.After(at) })
}

// ruleFiles lists the rule files of deploy/prometheus/prometheus.yml, as absolute paths.
func ruleFiles(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(deployPromConf)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	if err := yaml.Unmarshal(raw, &conf); err != nil {
		t.Fatalf("%s: %v", deployPromConf, err)
	}
	if len(conf.RuleFiles) == 0 {
		t.Fatalf("%s: no rule_files", deployPromConf)
	}
	var out []string
	for _, f := range conf.RuleFiles {
		abs, err := filepath.Abs(filepath.Join(filepath.Dir(deployPromConf), f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, abs)
	}
	return out
}

// waitRulesEvaluatedAfter waits until every rule group was evaluated after at, then
// reports each rule whose evaluation failed.
func (p *prometheus) waitRulesEvaluatedAfter(t *testing.T, at time.Time) {
	t.Helper()
	const within = 30 * time.Second
	deadline := time.Now().Add(within)
	for {
		var data struct {
			Groups []struct {
				Name           string    `json:"name"`
				LastEvaluation time.Time `json:"lastEvaluation"`
				Rules          []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		}
		err := p.api("/api/v1/rules", nil, &data)
		late := ""
		for _, g := range data.Groups {
			if !g.LastEvaluation.After(at) {
				late = g.Name
			}
		}
		switch {
		case err == nil && len(data.Groups) > 0 && late == "":
			for _, g := range data.Groups {
				for _, r := range g.Rules {
					if r.Health != "ok" {
						t.Errorf("rule group %s: rule %s: health %s: %s", g.Name, r.Name, r.Health, r.LastError)
					}
				}
			}
			return
		case time.Now().After(deadline):
			t.Fatalf("prometheus: rule groups not all evaluated within %s (%v; %d groups; group %q late)\n%s",
				within, err, len(data.Groups), late, p.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (p *prometheus) waitFor(t *testing.T, within time.Duration, what string, ok func(up float64, ts time.Time) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		res, err := p.query(fmt.Sprintf(`up{job=%q}`, promJob))
		if err != nil {
			last = err.Error()
		} else if len(res) > 0 {
			up, ts := sampleValue(res[0])
			last = fmt.Sprintf("up %v at %s", up, ts.Format(time.RFC3339Nano))
			if ok(up, ts) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus: no %s within %s (last: %s)\n%s", what, within, last, p.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metricNames is every metric name Prometheus has stored.
func (p *prometheus) metricNames(t *testing.T) map[string]bool {
	t.Helper()
	vals := p.labelValues(t, "__name__", "")
	names := make(map[string]bool, len(vals))
	for _, n := range vals {
		names[n] = true
	}
	return names
}

func (p *prometheus) labelValues(t *testing.T, label, selector string) []string {
	t.Helper()
	params := url.Values{}
	if selector != "" {
		params.Set("match[]", selector)
	}
	var vals []string
	if err := p.api("/api/v1/label/"+label+"/values", params, &vals); err != nil {
		t.Fatal(err)
	}
	return vals
}

func sampleValue(s sample) (float64, time.Time) {
	sec, _ := s.Value[0].(float64)
	str, _ := s.Value[1].(string)
	v, _ := strconv.ParseFloat(str, 64)
	return v, time.Unix(0, int64(sec*1e9))
}

// summarize shows up to three samples of a result, for the log.
func summarize(res []sample) string {
	var parts []string
	for i, s := range res {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("… (%d series)", len(res)))
			break
		}
		v, _ := s.Value[1].(string)
		delete(s.Metric, "__name__")
		if len(s.Metric) == 0 {
			parts = append(parts, v)
			continue
		}
		keys := make([]string, 0, len(s.Metric))
		for k := range s.Metric {
			if k != "instance" && k != "job" {
				keys = append(keys, k+"="+s.Metric[k])
			}
		}
		sort.Strings(keys)
		parts = append(parts, "{"+strings.Join(keys, ",")+"} "+v)
	}
	return strings.Join(parts, "; ")
}

// dashboard is the part of a Grafana dashboard JSON model the test reads.
type dashboard struct {
	file       string
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int      `json:"id"`
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Panels  []panel  `json:"panels"` // a collapsed row's panels
	Targets []target `json:"targets"`
}

type target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
	Hide  bool   `json:"hide"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Current    struct {
		Value json.RawMessage `json:"value"`
	} `json:"current"`
}

// queryString is a query variable's query, in the string or the object form.
func (v variable) queryString() string {
	if v.Type != "query" {
		return ""
	}
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dashboardsDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s (%v)", dashboardsDir, err)
	}
	var out []dashboard
	uids := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := dashboard{file: filepath.Base(f)}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid %q, title %q: both are needed for provisioning", d.file, d.UID, d.Title)
		}
		if other, ok := uids[d.UID]; ok {
			t.Errorf("%s and %s share uid %s", other, d.file, d.UID)
		}
		uids[d.UID] = d.file
		ids := map[int]bool{}
		for _, p := range d.allPanels() {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d used twice", d.file, p.ID)
			}
			ids[p.ID] = true
		}
		out = append(out, d)
	}
	return out
}

func (d dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// variables maps the dashboard's variables to the value a query uses with "All"
// selected (or the current value); data source variables do not appear in exprs.
func (d dashboard) variables(t *testing.T) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		switch {
		case v.Type == "datasource":
		case v.IncludeAll && v.AllValue != "":
			vars[v.Name] = v.AllValue
		default:
			var s string
			var l []string
			if json.Unmarshal(v.Current.Value, &s) == nil {
				vars[v.Name] = s
			} else if json.Unmarshal(v.Current.Value, &l) == nil && len(l) == 1 && l[0] != "$__all" {
				vars[v.Name] = l[0]
			} else {
				t.Errorf("%s: variable %s: give it an allValue or a single current value", d.file, v.Name)
			}
		}
	}
	return vars
}

// substitute replaces Grafana's built-in and the dashboard's variables ($name,
// ${name}, [[name]]), longest names first.
func substitute(expr string, vars map[string]string) string {
	type kv struct{ name, value string }
	var all []kv
	for _, b := range grafanaBuiltins {
		all = append(all, kv(b))
	}
	for n, v := range vars {
		all = append(all, kv{n, v})
	}
	sort.Slice(all, func(i, j int) bool { return len(all[i].name) > len(all[j].name) })
	for _, v := range all {
		expr = strings.NewReplacer("${"+v.name+"}", v.value, "[["+v.name+"]]", v.value).Replace(expr)
		expr = regexp.MustCompile(`\$`+regexp.QuoteMeta(v.name)+`\b`).ReplaceAllLiteralString(expr, v.value)
	}
	return expr
}

var (
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	metricName = regexp.MustCompile(`\b(?:ticket|go|process)_[a-zA-Z0-9_:]+|\bup\b`)
	labelVals  = regexp.MustCompile(`^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
)

// metricsIn lists the metric names an expr refers to (outside label values), so that
// a typo is found even where `or vector(0)` would hide it.
func metricsIn(expr string) []string {
	return metricName.FindAllString(quoted.ReplaceAllString(expr, `""`), -1)
}

// labelValuesQuery splits Grafana's label_values(selector, label).
func labelValuesQuery(q string) (selector, label string, ok bool) {
	m := labelVals.FindStringSubmatch(q)
	if m == nil {
		return "", "", false
	}
	return strings.TrimSpace(m[1]), m[2], true
}
