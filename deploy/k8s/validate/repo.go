package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Paths inside the repository.
const (
	k8sDir       = "deploy/k8s"
	baseDir      = "deploy/k8s/base"
	overlaysDir  = "deploy/k8s/overlays"
	ruleCopyPath = "deploy/k8s/base/prometheusrule.yaml"
	promConfPath = "deploy/prometheus/prometheus.yml"
	rulesDir     = "deploy/prometheus/rules"
)

// Report says what one kustomization rendered to.
type Report struct {
	Dir     string
	Objects int
}

// ValidateRepo validates the base and every overlay of the repository at repo, and
// checks that the PrometheusRule copy is what the rule files make. It returns every
// problem found, joined.
func ValidateRepo(repo string) ([]Report, error) {
	dirs := []string{baseDir}
	overlays, err := os.ReadDir(filepath.Join(repo, overlaysDir))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", overlaysDir, err)
	}
	for _, o := range overlays {
		if o.IsDir() {
			dirs = append(dirs, filepath.Join(overlaysDir, o.Name()))
		}
	}
	sort.Strings(dirs[1:])
	var errs []error
	var reports []Report
	if err := checkRuleCopy(repo); err != nil {
		errs = append(errs, err)
	}
	for _, d := range dirs {
		n, err := ValidateDir(filepath.Join(repo, d), repo)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d, err))
			continue
		}
		reports = append(reports, Report{Dir: d, Objects: n})
	}
	return reports, errors.Join(errs...)
}

// ValidateDir renders the kustomization in dir and validates what it renders; repo
// is the repository root (for topics.Declared and the rule files). It returns the
// number of objects rendered.
func ValidateDir(dir, repo string) (int, error) {
	objs, err := render(dir)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, o := range objs {
		if err := decode(o); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.id(), err))
		}
	}
	if len(errs) > 0 {
		// The checks below read decoded objects: they would only repeat these errors.
		return len(objs), errors.Join(errs...)
	}
	return len(objs), checkAll(objs)
}
