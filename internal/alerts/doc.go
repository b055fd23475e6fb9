// Package alerts holds the tests of the Prometheus alert and recording rules in
// deploy/prometheus/rules: promtool checks and unit-tests every rule file, and every
// alert must carry a severity, a summary, a description and a runbook that exists in
// docs/runbooks. The package has no code of its own; the rules are YAML, and Go tests
// are how `make test` runs them.
package alerts
