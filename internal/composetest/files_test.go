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
