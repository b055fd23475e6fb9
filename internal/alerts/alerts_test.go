package alerts

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	promtoolBin = "/usr/bin/promtool" // Debian package `prometheus`, installed by `make deps`
	repoRoot    = "../.."
	rulesDir    = repoRoot + "/deploy/prometheus/rules"
	promConf    = repoRoot + "/deploy/prometheus/prometheus.yml"
	runbooksDir = repoRoot + "/docs/runbooks"
	// testSuffix marks the promtool unit-test files beside the rule files.
	testSuffix = "_test.yml"
)

// severities are the values an alert's severity label may take: page wakes someone,
// ticket waits for working hours.
var severities = []string{"page", "ticket"}

// ruleFile is the part of a Prometheus rule file these tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// unitFile is the part of a promtool unit-test file these tests read.
type unitFile struct {
	Tests []struct {
		AlertRuleTests []struct {
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// files returns the rule files and the unit-test files of rulesDir.
func files(t *testing.T) (rules, tests []string) {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
	if err != nil || len(all) == 0 {
		t.Fatalf("no rule files in %s (%v)", rulesDir, err)
	}
	for _, f := range all {
		if strings.HasSuffix(f, testSuffix) {
			tests = append(tests, f)
		} else {
			rules = append(rules, f)
		}
	}
	return rules, tests
}

// promtool runs promtool with args and fails the test on error. It is skipped under
// -short, whose tier needs nothing but Go.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs promtool; skipped under -short")
	}
	if _, err := os.Stat(promtoolBin); err != nil {
		t.Fatalf("%s not found: run `make deps` (installs Debian's prometheus package)", promtoolBin)
	}
	out, err := exec.Command(promtoolBin, args...).CombinedOutput()
	if err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// decode reads the YAML file at path into v.
func decode(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestRulesCheck proves that promtool accepts every rule file: valid YAML, valid
// PromQL, valid templates.
func TestRulesCheck(t *testing.T) {
	rules, _ := files(t)
	promtool(t, append([]string{"check", "rules"}, rules...)...)
}

// TestRulesUnit runs the promtool unit tests: each alert fires for a failing input
// and stays silent for a healthy one.
func TestRulesUnit(t *testing.T) {
	_, tests := files(t)
	if len(tests) == 0 {
		t.Fatalf("no *%s files in %s", testSuffix, rulesDir)
	}
	for _, f := range tests {
		t.Run(filepath.Base(f), func(t *testing.T) { promtool(t, "test", "rules", f) })
	}
}

// TestAlertsComplete proves that every alert is labelled and annotated, names an
// existing runbook listed in the runbook index, is unit-tested both firing and
// silent, and that Prometheus loads every rule file.
func TestAlertsComplete(t *testing.T) {
	rules, tests := files(t)
	fired, silent := testedAlerts(t, tests)
	index, err := os.ReadFile(filepath.Join(runbooksDir, "README.md"))
	if err != nil {
		t.Fatalf("runbook index: %v", err)
	}
	conf, err := os.ReadFile(promConf)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range rules {
		rel := "rules/" + filepath.Base(f)
		if !strings.Contains(string(conf), "- "+rel+"\n") {
			t.Errorf("%s does not list %s under rule_files", promConf, rel)
		}
		var rf ruleFile
		decode(t, f, &rf)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				if seen[r.Alert] {
					t.Errorf("%s: alert %s defined twice", f, r.Alert)
				}
				seen[r.Alert] = true
				checkAlert(t, r.Alert, r.Labels, r.Annotations, string(index))
				if !fired[r.Alert] || !silent[r.Alert] {
					t.Errorf("%s: unit tests: fires %v, stays silent %v; both are needed", r.Alert, fired[r.Alert], silent[r.Alert])
				}
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("no alerts found")
	}
}

// checkAlert checks one alert's labels, annotations and runbook.
func checkAlert(t *testing.T, name string, labels, ann map[string]string, index string) {
	t.Helper()
	if !slices.Contains(severities, labels["severity"]) {
		t.Errorf("%s: severity %q, want one of %v", name, labels["severity"], severities)
	}
	for _, k := range []string{"summary", "description"} {
		if strings.TrimSpace(ann[k]) == "" {
			t.Errorf("%s: annotation %s is missing", name, k)
		}
	}
	want := "docs/runbooks/" + name + ".md"
	if ann["runbook_url"] != want {
		t.Errorf("%s: runbook_url %q, want %q", name, ann["runbook_url"], want)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, want)); err != nil {
		t.Errorf("%s: runbook missing: %v", name, err)
	}
	if !strings.Contains(index, "("+name+".md)") {
		t.Errorf("%s: not linked from %s/README.md", name, runbooksDir)
	}
}

// testedAlerts returns the alerts some unit test expects to fire and those some unit
// test expects to stay silent.
func testedAlerts(t *testing.T, tests []string) (fired, silent map[string]bool) {
	t.Helper()
	fired, silent = map[string]bool{}, map[string]bool{}
	for _, f := range tests {
		var uf unitFile
		decode(t, f, &uf)
		for _, tc := range uf.Tests {
			for _, a := range tc.AlertRuleTests {
				if len(a.ExpAlerts) > 0 {
					fired[a.Alertname] = true
				} else {
					silent[a.Alertname] = true
				}
			}
		}
	}
	return fired, silent
}
