package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const repoRoot = "../../.."

// TestRepository proves that the manifests of the repository, base and every
// overlay, pass every check, and that the PrometheusRule copy is current.
func TestRepository(t *testing.T) {
	reports, err := ValidateRepo(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) < 2 {
		t.Fatalf("validated %v: want the base and at least one overlay", reports)
	}
	for _, r := range reports {
		t.Logf("%s: %d objects", r.Dir, r.Objects)
	}
}

// TestMistakesFound proves that each kind of mistake fails validation with an error
// that names it: a typo'd field in every family of types (Kubernetes, Prometheus
// Operator, Strimzi, KEDA), a value out of its enum, a KafkaTopic that departs from
// topics.Declared, a setting a component must take from a Secret that it does not
// (missing, or written in the manifests), a PrometheusRule copy that drifted from its
// source, and a rule expression that does not parse.
func TestMistakesFound(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
		regenerate                 bool // rewrite the rule copy after the edit
	}{
		{"Deployment field typo", "deploy/k8s/base/api.yaml", "readinessProbe:", "readinesProbe:", `unknown field "spec.template.spec.containers[0].readinesProbe"`, false},
		{"field name case", "deploy/k8s/base/sink.yaml", "terminationGracePeriodSeconds:", "TerminationGracePeriodSeconds:", "unknown field", false},
		{"HPA field typo", "deploy/k8s/base/api.yaml", "averageUtilization:", "averageUtilisation:", "unknown field", false},
		{"ServiceMonitor field typo", "deploy/k8s/base/monitoring.yaml", "jobLabel:", "joblabel:", "unknown field", false},
		{"Kafka field typo", "deploy/k8s/base/kafka.yaml", "kafkaExporter:", "kafkaExporterr:", "kafkaExporterr", false},
		{"KafkaNodePool enum", "deploy/k8s/base/kafka.yaml", "kraftMetadata: shared", "kraftMetadata: separate", "kraftMetadata", false},
		{"KafkaTopic field typo", "deploy/k8s/base/topics.yaml", "  partitions: 6\n  replicas: 3\n  config:\n    retention.ms: \"604800000\"\n    min.insync.replicas: \"2\"\n    #", "  partition: 6\n  replicas: 3\n  config:\n    retention.ms: \"604800000\"\n    min.insync.replicas: \"2\"\n    #", "partition", false},
		{"KEDA kafka trigger typo", "deploy/k8s/base/processor.yaml", "lagThreshold:", "lagThreshhold:", "lagThreshhold", false},
		{"KEDA behavior typo", "deploy/k8s/base/processor.yaml", "stabilizationWindowSeconds: 600", "stabilisationWindowSeconds: 600", "behavior", false},
		{"topic config departs from topics.Declared", "deploy/k8s/base/topics.yaml", `segment.ms: "600000"`, `segment.ms: "60000"`, "topics.Declared says", false},
		{"partitions departs from PARTITIONS", "deploy/k8s/base/config.yaml", `PARTITIONS: "6"`, `PARTITIONS: "12"`, "partitions 6, topics.Declared says 12", false},
		{"INSTANCE not from the pod name", "deploy/k8s/base/processor.yaml", "fieldPath: metadata.name", "fieldPath: metadata.uid", "INSTANCE must come from the pod's name", false},
		{"readiness path", "deploy/k8s/base/api.yaml", "path: /ready", "path: /health", "want /ready", false},
		{"api without the admission key", "deploy/k8s/base/api.yaml", secretEnv("ADMISSION_SIGNING_KEY"), "", "Deployment api container ticketd: ADMISSION_SIGNING_KEY must come from a Secret", false},
		{"secret as a literal value", "deploy/k8s/base/api.yaml", secretEnv("POW_SECRET"), "            - name: POW_SECRET\n              value: development-secret-0123456789abcdef\n", "POW_SECRET must come from a Secret", false},
		{"payments worker without the Stripe key", "deploy/k8s/base/payments.yaml", secretEnv("STRIPE_SECRET_KEY"), "", "Deployment payments container ticketd: STRIPE_SECRET_KEY must come from a Secret", false},
		{"secret in the ConfigMap", "deploy/k8s/base/config.yaml", "  LOG_LEVEL: info\n", "  LOG_LEVEL: info\n  WEBHOOK_SECRET: whsec_0123456789\n", "WEBHOOK_SECRET is a secret", false},
		{"secret as a literal value elsewhere", "deploy/k8s/base/sink.yaml", "            - name: GOMEMLIMIT\n", "            - name: STRIPE_SECRET_KEY\n              value: sk_live_0123456789\n            - name: GOMEMLIMIT\n", "Deployment sink container ticketd: STRIPE_SECRET_KEY is a secret", false},
		{"secret key the Secret lacks", "deploy/k8s/base/api.yaml", "key: POW_SECRET", "key: POW_SECRETS", "Secret ticketd-secrets has no key POW_SECRETS", false},
		{"scaled workload with replicas", "deploy/k8s/base/processor.yaml", "  serviceName: processor\n", "  serviceName: processor\n  replicas: 3\n", "owns the count", false},
		{"rule copy drift", "deploy/k8s/base/prometheusrule.yaml", "severity: page", "severity: pager", "differs from the rule files", false},
		{"rule file not loaded", "deploy/prometheus/rules/extra.yml", "", "groups: []\n", "not in the rule_files", false},
		{"rule expression", "deploy/prometheus/rules/pipeline.yml", `up{job="ticketd"} == 0`, `up{job="ticketd"} == == 0`, "expr", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := copyRepo(t)
			if c.old == "" { // a new file
				if err := os.WriteFile(filepath.Join(repo, c.file), []byte(c.new), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				edit(t, filepath.Join(repo, c.file), c.old, c.new)
			}
			if c.regenerate {
				text, err := renderRuleCopy(repo)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(repo, ruleCopyPath), text, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ValidateRepo(repo)
			if err == nil {
				t.Fatalf("no error after %s: %q -> %q", c.file, c.old, c.new)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not mention %q:\n%v", c.want, err)
			}
		})
	}
}

// TestCopyValid proves that the copy TestMistakesFound edits is valid before the
// edit, so that each case fails for its own edit only.
func TestCopyValid(t *testing.T) {
	if _, err := ValidateRepo(copyRepo(t)); err != nil {
		t.Fatal(err)
	}
}

// copyRepo copies what the validator reads (deploy/k8s but the validator itself,
// deploy/prometheus) to a temporary directory.
func copyRepo(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for _, dir := range []string{"deploy/k8s/base", "deploy/k8s/overlays", "deploy/prometheus"} {
		src := filepath.Join(repoRoot, dir)
		err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, path)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// secretEnv is an env entry of the manifests that sets name from its key of the
// Secret ticketd-secrets.
func secretEnv(name string) string {
	return "            - name: " + name + "\n              valueFrom:\n                secretKeyRef:\n" +
		"                  name: ticketd-secrets\n                  key: " + name + "\n"
}

// edit replaces the first occurrence of old in file, which must be there.
func edit(t *testing.T, file, old, new string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(raw), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
