package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
)

// externalSecrets are the Secrets the manifests refer to but do not contain (no
// secret is kept in the repository), with the keys they must have.
var externalSecrets = map[string][]string{
	"ticketd-secrets": {"DATABASE_URL", "ADMIN_TOKEN", "ADMISSION_SIGNING_KEY", "POW_SECRET",
		"BUYER_JWKS", "BUYER_ISSUER", "BUYER_AUDIENCE", "STRIPE_SECRET_KEY", "WEBHOOK_SECRET"},
}

// ticketdCommands are the ticketd commands a container may run, with the path of
// the readiness probe each serves.
var ticketdCommands = map[string]string{"api": "/ready", "processor": "/health", "sink": "/health", "payments": "/health"}

// fromSecret are the settings each ticketd command must take from a Secret
// (env valueFrom.secretKeyRef): the secrets, and what only the operator can know.
// Without one, ticketd runs on its defaults: a local database, no admin access, or,
// for the waiting room, public development keys (with a warning nobody reads) and
// self-declared buyers; for the api without STRIPE_SECRET_KEY, no payments while
// the payments worker runs.
var fromSecret = map[string][]string{
	"api": {"DATABASE_URL", "ADMIN_TOKEN", "ADMISSION_SIGNING_KEY", "POW_SECRET",
		"BUYER_JWKS", "BUYER_ISSUER", "BUYER_AUDIENCE", "STRIPE_SECRET_KEY", "WEBHOOK_SECRET"},
	"processor": nil,
	"sink":      {"DATABASE_URL"},
	"payments":  {"DATABASE_URL", "STRIPE_SECRET_KEY"},
}

// secretSettings are the settings that are secrets: no ConfigMap may hold them.
var secretSettings = []string{"DATABASE_URL", "ADMIN_TOKEN", "ADMISSION_SIGNING_KEY", "POW_SECRET", "STRIPE_SECRET_KEY", "WEBHOOK_SECRET"}

// processorGroup is the consumer group of the processors (processor.GroupDefault),
// whose lag the autoscaler reads.
const processorGroup = "ticket-processor"

// workload is a Deployment or a StatefulSet, seen through what the checks need.
type workload struct {
	kind, name string
	replicas   *int32
	selector   *metav1.LabelSelector
	pod        corev1.PodTemplateSpec
}

// set is the decoded objects of one rendering, by kind.
type set struct {
	workloads   []workload
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	monitors    []*monitoringv1.ServiceMonitor
	rules       []*monitoringv1.PrometheusRule
	statefulSet map[string]*appsv1.StatefulSet
	custom      map[string][]map[string]any // by kind: Kafka, KafkaNodePool, KafkaTopic, ScaledObject
}

func collect(objs []*object) *set {
	s := &set{services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{}, statefulSet: map[string]*appsv1.StatefulSet{},
		custom: map[string][]map[string]any{}}
	for _, o := range objs {
		switch v := o.Typed.(type) {
		case *appsv1.Deployment:
			s.workloads = append(s.workloads, workload{"Deployment", v.Name, v.Spec.Replicas, v.Spec.Selector, v.Spec.Template})
		case *appsv1.StatefulSet:
			s.workloads = append(s.workloads, workload{"StatefulSet", v.Name, v.Spec.Replicas, v.Spec.Selector, v.Spec.Template})
			s.statefulSet[v.Name] = v
		case *corev1.Service:
			s.services[v.Name] = v
		case *corev1.ConfigMap:
			s.configMaps[v.Name] = v
		case *corev1.Secret:
			s.secrets[v.Name] = v
		case *policyv1.PodDisruptionBudget:
			s.pdbs = append(s.pdbs, v)
		case *autoscalingv2.HorizontalPodAutoscaler:
			s.hpas = append(s.hpas, v)
		case *monitoringv1.ServiceMonitor:
			s.monitors = append(s.monitors, v)
		case *monitoringv1.PrometheusRule:
			s.rules = append(s.rules, v)
		case map[string]any:
			s.custom[o.Kind] = append(s.custom[o.Kind], v)
		}
	}
	return s
}

// checkAll runs every check that spans fields or objects.
func checkAll(objs []*object) error {
	s := collect(objs)
	var errs []error
	for _, w := range s.workloads {
		errs = append(errs, s.checkWorkload(w))
	}
	errs = append(errs, s.checkConfigMaps(), s.checkServices(), s.checkDisruptionBudgets(), s.checkScalers(),
		s.checkMonitors(), s.checkRules(), s.checkKafka())
	return errors.Join(errs...)
}

// matches says whether a selector's labels are all in labels.
func matches(sel map[string]string, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (s *set) checkWorkload(w workload) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %s: %s", w.kind, w.name, fmt.Sprintf(format, args...)))
	}
	if w.selector == nil || len(w.selector.MatchExpressions) > 0 || !matches(w.selector.MatchLabels, w.pod.Labels) {
		bad("selector.matchLabels must be set and match the pod template's labels")
	}
	if st := s.statefulSet[w.name]; w.kind == "StatefulSet" {
		if svc := s.services[st.Spec.ServiceName]; svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
			bad("serviceName %q must name a headless Service of these manifests", st.Spec.ServiceName)
		}
	}
	if len(w.pod.Spec.Containers) == 0 {
		bad("no containers")
	}
	for _, c := range w.pod.Spec.Containers {
		errs = append(errs, s.checkContainer(w, c))
	}
	return errors.Join(errs...)
}

func (s *set) checkContainer(w workload, c corev1.Container) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %s container %s: %s", w.kind, w.name, c.Name, fmt.Sprintf(format, args...)))
	}
	if c.Image == "" {
		bad("no image")
	}
	ports := map[string]bool{}
	for _, p := range c.Ports {
		ports[p.Name] = true
	}
	probe := func(what string, p *corev1.Probe, path string) {
		switch {
		case p == nil || p.HTTPGet == nil:
			bad("%s probe: an HTTP GET probe is required", what)
		case path != "" && p.HTTPGet.Path != path:
			bad("%s probe: path %s, want %s", what, p.HTTPGet.Path, path)
		case p.HTTPGet.Port.StrVal != "" && !ports[p.HTTPGet.Port.StrVal]:
			bad("%s probe: port %q is not a container port", what, p.HTTPGet.Port.StrVal)
		}
	}
	readyPath := ""
	if len(c.Args) > 0 {
		var ok bool
		if readyPath, ok = ticketdCommands[c.Args[0]]; !ok {
			bad("args[0] %q is not a ticketd command (api, processor, sink, payments)", c.Args[0])
		}
		for _, name := range fromSecret[c.Args[0]] {
			if !envFromSecret(c, name) {
				bad("%s must come from a Secret (env valueFrom.secretKeyRef): ticketd %s needs it", name, c.Args[0])
			}
		}
	}
	probe("liveness", c.LivenessProbe, "/health")
	probe("readiness", c.ReadinessProbe, readyPath)
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			bad("resources.requests.%s is required", r)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		bad("resources.limits.memory is required")
	}
	instance := false
	for _, e := range c.Env {
		if e.Name == "INSTANCE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
			e.ValueFrom.FieldRef.FieldPath == "metadata.name" {
			instance = true
		}
		if e.ValueFrom != nil {
			errs = append(errs, s.checkRef(w, c, e.ValueFrom))
		} else if slices.Contains(secretSettings, e.Name) {
			bad("%s is a secret: it must come from a Secret (env valueFrom.secretKeyRef), not a value in the manifests", e.Name)
		}
	}
	if !instance {
		bad("INSTANCE must come from the pod's name (valueFrom.fieldRef metadata.name)")
	}
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil && s.configMaps[e.ConfigMapRef.Name] == nil {
			bad("envFrom: no ConfigMap %s", e.ConfigMapRef.Name)
		}
		if e.SecretRef != nil && s.secrets[e.SecretRef.Name] == nil && externalSecrets[e.SecretRef.Name] == nil {
			bad("envFrom: no Secret %s", e.SecretRef.Name)
		}
	}
	return errors.Join(errs...)
}

// envFromSecret says whether container c sets name from a Secret's key.
func envFromSecret(c corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			return e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
		}
	}
	return false
}

// checkConfigMaps checks that no ConfigMap holds a secret: every pod that reads
// the ConfigMap would get it, in plain text.
func (s *set) checkConfigMaps() error {
	var errs []error
	for _, cm := range s.configMaps {
		for _, k := range secretSettings {
			if _, ok := cm.Data[k]; ok {
				errs = append(errs, fmt.Errorf("ConfigMap %s: %s is a secret: it belongs in the Secret ticketd-secrets", cm.Name, k))
			}
		}
	}
	return errors.Join(errs...)
}

func (s *set) checkRef(w workload, c corev1.Container, v *corev1.EnvVarSource) error {
	where := fmt.Sprintf("%s %s container %s", w.kind, w.name, c.Name)
	if r := v.ConfigMapKeyRef; r != nil {
		cm := s.configMaps[r.Name]
		if cm == nil {
			return fmt.Errorf("%s: no ConfigMap %s", where, r.Name)
		}
		if _, ok := cm.Data[r.Key]; !ok {
			return fmt.Errorf("%s: ConfigMap %s has no key %s", where, r.Name, r.Key)
		}
	}
	if r := v.SecretKeyRef; r != nil {
		keys, ok := externalSecrets[r.Name]
		if sec := s.secrets[r.Name]; sec != nil {
			ok, keys = true, nil
			for k := range sec.Data {
				keys = append(keys, k)
			}
			for k := range sec.StringData {
				keys = append(keys, k)
			}
		}
		if !ok {
			return fmt.Errorf("%s: no Secret %s (neither rendered nor external)", where, r.Name)
		}
		found := false
		for _, k := range keys {
			found = found || k == r.Key
		}
		if !found {
			return fmt.Errorf("%s: Secret %s has no key %s", where, r.Name, r.Key)
		}
	}
	return nil
}

// selects says whether sel picks the pods of some workload.
func (s *set) selects(sel map[string]string) bool {
	for _, w := range s.workloads {
		if matches(sel, w.pod.Labels) {
			return true
		}
	}
	return false
}

func (s *set) checkServices() error {
	var errs []error
	for _, svc := range s.services {
		if !s.selects(svc.Spec.Selector) {
			errs = append(errs, fmt.Errorf("the selector of Service %s picks no workload's pods", svc.Name))
			continue
		}
		for _, p := range svc.Spec.Ports {
			if p.TargetPort.StrVal == "" {
				continue
			}
			for _, w := range s.workloads {
				if matches(svc.Spec.Selector, w.pod.Labels) && !hasPort(w.pod, p.TargetPort.StrVal) {
					errs = append(errs, fmt.Errorf("targetPort %q of Service %s is not a port of %s %s", p.TargetPort.StrVal, svc.Name, w.kind, w.name))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func hasPort(pod corev1.PodTemplateSpec, name string) bool {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func (s *set) checkDisruptionBudgets() error {
	var errs []error
	covered := map[string]bool{}
	for _, p := range s.pdbs {
		if p.Spec.Selector == nil || !s.selects(p.Spec.Selector.MatchLabels) {
			errs = append(errs, fmt.Errorf("PodDisruptionBudget %s: selector picks no workload's pods", p.Name))
			continue
		}
		if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
			errs = append(errs, fmt.Errorf("PodDisruptionBudget %s: set one of minAvailable and maxUnavailable", p.Name))
		}
		for _, w := range s.workloads {
			if matches(p.Spec.Selector.MatchLabels, w.pod.Labels) {
				covered[w.kind+"/"+w.name] = true
			}
		}
	}
	for _, w := range s.workloads {
		if !covered[w.kind+"/"+w.name] {
			errs = append(errs, fmt.Errorf("%s %s: no PodDisruptionBudget", w.kind, w.name))
		}
	}
	return errors.Join(errs...)
}

// checkScalers checks the HPAs and KEDA ScaledObjects: each scales a workload of
// these manifests, none is scaled twice, and a scaled workload leaves its replica
// count to the scaler (else every apply would reset it).
func (s *set) checkScalers() error {
	var errs []error
	scaled := map[string]string{}
	target := func(by, kind, name string) {
		key := kind + "/" + name
		if other, ok := scaled[key]; ok {
			errs = append(errs, fmt.Errorf("%s %s is scaled by both %s and %s", kind, name, other, by))
		}
		scaled[key] = by
		for _, w := range s.workloads {
			if w.kind == kind && w.name == name {
				if w.replicas != nil {
					errs = append(errs, fmt.Errorf("%s %s: replicas is set, but %s owns the count", kind, name, by))
				}
				return
			}
		}
		errs = append(errs, fmt.Errorf("%s: target %s %s is not in these manifests", by, kind, name))
	}
	for _, h := range s.hpas {
		target("HorizontalPodAutoscaler "+h.Name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			errs = append(errs, fmt.Errorf("HorizontalPodAutoscaler %s: want 2 <= minReplicas <= maxReplicas", h.Name))
		}
	}
	partitions, _ := s.partitions()
	for _, so := range s.custom["ScaledObject"] {
		name := str(so, "metadata", "name")
		by := "ScaledObject " + name
		target(by, str(so, "spec", "scaleTargetRef", "kind"), str(so, "spec", "scaleTargetRef", "name"))
		if b, ok := dig(so, "spec", "advanced", "horizontalPodAutoscalerConfig", "behavior"); ok {
			if err := strictFromMap(b, &autoscalingv2.HorizontalPodAutoscalerBehavior{}); err != nil {
				errs = append(errs, fmt.Errorf("%s: advanced.horizontalPodAutoscalerConfig.behavior: %w", by, err))
			}
		}
		maxN, _ := dig(so, "spec", "maxReplicaCount")
		if n, ok := maxN.(float64); partitions > 0 && (!ok || int(n) > partitions) {
			errs = append(errs, fmt.Errorf("%s: maxReplicaCount %v must be set and at most PARTITIONS %d (a processor beyond it owns no partition)", by, maxN, partitions))
		}
		errs = append(errs, s.checkKafkaTriggers(so, by))
	}
	return errors.Join(errs...)
}

func (s *set) checkKafkaTriggers(so map[string]any, by string) error {
	var errs []error
	triggers, _ := dig(so, "spec", "triggers")
	list, _ := triggers.([]any)
	for _, t := range list {
		tm, _ := t.(map[string]any)
		if tm["type"] != "kafka" {
			continue
		}
		if g := str(tm, "metadata", "consumerGroup"); g != processorGroup {
			errs = append(errs, fmt.Errorf("%s: consumerGroup %q, want the processors' group %q", by, g, processorGroup))
		}
		if b, want := str(tm, "metadata", "bootstrapServers"), s.configValue("KAFKA_BROKERS"); b != want {
			errs = append(errs, fmt.Errorf("%s: bootstrapServers %q, want KAFKA_BROKERS %q", by, b, want))
		}
		if topic := str(tm, "metadata", "topic"); !s.hasTopic(topic) {
			errs = append(errs, fmt.Errorf("%s: topic %q is not a KafkaTopic of these manifests", by, topic))
		}
	}
	return errors.Join(errs...)
}

func (s *set) checkMonitors() error {
	var errs []error
	if len(s.monitors) == 0 {
		errs = append(errs, errors.New("no ServiceMonitor"))
	}
	for _, m := range s.monitors {
		n := 0
		for _, svc := range s.services {
			if !matches(m.Spec.Selector.MatchLabels, svc.Labels) {
				continue
			}
			n++
			if m.Spec.JobLabel != "" && svc.Labels[m.Spec.JobLabel] != "ticketd" {
				errs = append(errs, fmt.Errorf("ServiceMonitor %s: Service %s: label %s must be \"ticketd\" (the job the rules and dashboards select)", m.Name, svc.Name, m.Spec.JobLabel))
			}
			for _, e := range m.Spec.Endpoints {
				if !servicePort(svc, e.Port) {
					errs = append(errs, fmt.Errorf("ServiceMonitor %s: Service %s has no port %v", m.Name, svc.Name, e.Port))
				}
			}
		}
		if n == 0 {
			errs = append(errs, fmt.Errorf("ServiceMonitor %s: selector picks no Service", m.Name))
		}
	}
	return errors.Join(errs...)
}

func servicePort(svc *corev1.Service, name string) bool {
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

// configValue is a setting of the ConfigMap ticketd-config.
func (s *set) configValue(key string) string {
	if cm := s.configMaps["ticketd-config"]; cm != nil {
		return cm.Data[key]
	}
	return ""
}

// partitions is PARTITIONS of ticketd-config, 0 if absent.
func (s *set) partitions() (int, error) {
	v := s.configValue("PARTITIONS")
	if v == "" {
		return 0, errors.New("ConfigMap ticketd-config: PARTITIONS is required")
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("ConfigMap ticketd-config: PARTITIONS: %w", err)
	}
	return n, nil
}

// dig walks maps by keys.
func dig(m map[string]any, keys ...string) (any, bool) {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func str(m map[string]any, keys ...string) string {
	v, _ := dig(m, keys...)
	s, _ := v.(string)
	return s
}

// brokerHost is the host:port of a Strimzi cluster's bootstrap Service.
func brokerHost(cluster string) string { return cluster + "-kafka-bootstrap:" }

func hasPrefix(s, prefix string) bool { return strings.HasPrefix(s, prefix) }
