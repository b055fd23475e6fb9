// Command validate checks the Kubernetes manifests of deploy/k8s offline: it renders
// the base and every overlay with kustomize (in-process, no cluster, no download),
// decodes each rendered object strictly (an unknown field is an error) into the
// Kubernetes Go API types, the Prometheus Operator types, or, for the Strimzi and
// KEDA resources, a JSON schema kept in schemas/, and then checks what a schema
// cannot: probes and resources on every container, references between objects, the
// settings each component must take from a Secret (and no secret written in them),
// the KafkaTopics against topics.Declared, the PrometheusRule against
// deploy/prometheus/rules, and that every rule expression parses.
//
// Run from the repository: `make k8s-validate`; `make k8s-rules` rewrites the
// PrometheusRule from the rule files (-write).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	repo := flag.String("repo", "../../..", "root of the ultimate-ticket repository")
	write := flag.Bool("write", false, "rewrite deploy/k8s/base/prometheusrule.yaml from the rule files, then validate")
	flag.Parse()
	if err := run(*repo, *write); err != nil {
		fmt.Fprintln(os.Stderr, "k8s-validate:", err)
		os.Exit(1)
	}
}

func run(repo string, write bool) error {
	if write {
		path := filepath.Join(repo, ruleCopyPath)
		text, err := renderRuleCopy(repo)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, text, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		fmt.Println("wrote", ruleCopyPath)
	}
	reports, err := ValidateRepo(repo)
	for _, r := range reports {
		fmt.Printf("ok %s: %d objects\n", r.Dir, r.Objects)
	}
	return err
}
