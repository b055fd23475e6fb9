package composetest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ultimate-ticket/ultimate-ticket/internal/admittoken"
	"github.com/ultimate-ticket/ultimate-ticket/internal/pow"
)

const (
	composeProm = "deploy/compose/prometheus.yml"
	laptopProm  = "deploy/prometheus/prometheus.yml"
)

// imageVars are the variables that override the stack's images, one per image.
var imageVars = []string{"ALERTMANAGER_IMAGE", "GRAFANA_IMAGE", "KAFKA_IMAGE", "POSTGRES_IMAGE", "PROMETHEUS_IMAGE", "TICKETD_IMAGE"}

// overridable is how a service names its image: ${VAR:-default}.
var overridable = regexp.MustCompile(`^\$\{([A-Z_]+_IMAGE):-[^}]+\}$`)

// promConfig is the part of a Prometheus configuration these tests read.
type promConfig struct {
	RuleFiles []string `yaml:"rule_files"`
}

// ruleFile is the part of a Prometheus rule file these tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string `yaml:"alert"`
			Record string `yaml:"record"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readYAML(t testing.TB, rel string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// TestComposePrometheusLoadsTheRules proves that the compose stack's Prometheus
// loads the same rule files as deploy/prometheus/prometheus.yml, so that a rule file
// added there cannot be forgotten here.
func TestComposePrometheusLoadsTheRules(t *testing.T) {
	var compose, laptop promConfig
	readYAML(t, composeProm, &compose)
	readYAML(t, laptopProm, &laptop)
	if len(laptop.RuleFiles) == 0 || !slices.Equal(compose.RuleFiles, laptop.RuleFiles) {
		t.Fatalf("%s rule_files %v, want those of %s: %v", composeProm, compose.RuleFiles, laptopProm, laptop.RuleFiles)
	}
}

// TestComposeImagesOverridable proves that every service of the compose file names
// its image by a variable with a default, and that the variables are the six the
// documentation names.
func TestComposeImagesOverridable(t *testing.T) {
	var f struct {
		Services map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"services"`
	}
	readYAML(t, composeFile, &f)
	seen := map[string]bool{}
	for name, svc := range f.Services {
		m := overridable.FindStringSubmatch(svc.Image)
		if m == nil {
			t.Errorf("service %s: image %q is not ${NAME_IMAGE:-default}", name, svc.Image)
			continue
		}
		seen[m[1]] = true
	}
	var vars []string
	for v := range seen {
		vars = append(vars, v)
	}
	sort.Strings(vars)
	if !slices.Equal(vars, imageVars) {
		t.Errorf("image variables %v, want %v", vars, imageVars)
	}
}

// TestComposeMountsExist proves that every file or folder the compose file mounts
// from the repository exists, Grafana's included (its service cannot run here).
func TestComposeMountsExist(t *testing.T) {
	var f struct {
		Services map[string]struct {
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	readYAML(t, composeFile, &f)
	mounts := 0
	for name, svc := range f.Services {
		for _, v := range svc.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") {
				continue // a named volume
			}
			mounts++
			if _, err := os.Stat(filepath.Join(repoRoot, filepath.Dir(composeFile), src)); err != nil {
				t.Errorf("service %s mounts %s: %v", name, src, err)
			}
		}
	}
	if mounts == 0 {
		t.Fatal("no mounts found: the compose file's layout changed")
	}
}

// withDefault is how the compose file passes a setting: ${VAR:-default}.
var withDefault = regexp.MustCompile(`^\$\{([A-Z_]+):-([^}]*)\}$`)

// TestComposeTicketdSettings proves that the compose file gives the api the waiting
// room's key and secret, each overridable with a development default that ticketd
// accepts (so it does not fall back to its own), and that payments are off unless
// STRIPE_SECRET_KEY is set, for the api and the payments worker alike.
func TestComposeTicketdSettings(t *testing.T) {
	var f struct {
		Services map[string]struct {
			Profiles    []string          `yaml:"profiles"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	readYAML(t, composeFile, &f)
	api, payments := f.Services["api"].Environment, f.Services["payments"]
	setting := func(service string, env map[string]string, name string) string {
		t.Helper()
		m := withDefault.FindStringSubmatch(env[name])
		if m == nil || m[1] != name {
			t.Fatalf("service %s: %s is %q, want ${%s:-default}", service, name, env[name], name)
		}
		return m[2]
	}
	if _, err := admittoken.DecodeKey(setting("api", api, "ADMISSION_SIGNING_KEY")); err != nil {
		t.Errorf("ADMISSION_SIGNING_KEY's default: %v", err)
	}
	if def := setting("api", api, "POW_SECRET"); len(def) < pow.SecretBytesMin {
		t.Errorf("POW_SECRET's default is %d bytes, want at least %d", len(def), pow.SecretBytesMin)
	}
	for service, env := range map[string]map[string]string{"api": api, "payments": payments.Environment} {
		if def := setting(service, env, "STRIPE_SECRET_KEY"); def != "" {
			t.Errorf("service %s: STRIPE_SECRET_KEY defaults to %q: payments must be off by default", service, def)
		}
	}
	if !slices.Equal(payments.Profiles, []string{"payments"}) {
		t.Errorf("service payments: profiles %v, want [payments] (started only with payments on)", payments.Profiles)
	}
}

// ruleNames are the names of the alerting and recording rules of the rule files the
// compose Prometheus loads, by file name.
func ruleNames(t testing.TB) map[string][]string {
	t.Helper()
	var conf promConfig
	readYAML(t, composeProm, &conf)
	names := map[string][]string{}
	for _, rel := range conf.RuleFiles {
		var rf ruleFile
		readYAML(t, filepath.Join("deploy/prometheus", rel), &rf)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				names[filepath.Base(rel)] = append(names[filepath.Base(rel)], r.Alert+r.Record)
			}
		}
	}
	return names
}
