package main

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/santhosh-tekuri/jsonschema/v6"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
)

// typed maps apiVersion/kind to the Go type a manifest of that kind decodes into.
// A kind in neither this map nor schemaFiles is rejected: add it on purpose.
var typed = map[string]func() any{
	"v1/Namespace":                            func() any { return &corev1.Namespace{} },
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                     func() any { return &appsv1.StatefulSet{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PodMonitor":     func() any { return &monitoringv1.PodMonitor{} },
}

// schemaFiles maps the custom resources whose Go types are not used (Strimzi's are
// Java; KEDA's module brings a controller's dependencies) to a JSON schema in
// schemas/, written from the fields of their CRDs (Strimzi kafka.strimzi.io/v1,
// KEDA keda.sh/v1alpha1). Unlike the CRDs, the schemas reject unknown fields, as the
// API server's strict field validation does.
var schemaFiles = map[string]string{
	"kafka.strimzi.io/v1/Kafka":         "schemas/strimzi-kafka.json",
	"kafka.strimzi.io/v1/KafkaNodePool": "schemas/strimzi-kafkanodepool.json",
	"kafka.strimzi.io/v1/KafkaTopic":    "schemas/strimzi-kafkatopic.json",
	"keda.sh/v1alpha1/ScaledObject":     "schemas/keda-scaledobject.json",
}

//go:embed schemas/*.json
var schemaFS embed.FS

// decode decodes o strictly into its type, or checks it against its schema and
// decodes it into a generic map; o.Typed holds the result.
func decode(o *object) error {
	gvk := o.APIVersion + "/" + o.Kind
	if mk, ok := typed[gvk]; ok {
		v := mk()
		if err := decodeStrict(o.JSON, v); err != nil {
			return err
		}
		o.Typed = v
		return nil
	}
	if _, ok := schemaFiles[gvk]; ok {
		sch, err := schemaFor(gvk)
		if err != nil {
			return err
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(o.JSON))
		if err != nil {
			return err
		}
		if err := sch.Validate(inst); err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(o.JSON, &m); err != nil {
			return err
		}
		o.Typed = m
		return nil
	}
	return fmt.Errorf("kind %s is not known to the validator (add it to typed or schemaFiles)", gvk)
}

// decodeStrict decodes as the API server does with strict field validation:
// field names are case-sensitive, and an unknown or duplicate field is an error.
func decodeStrict(data []byte, v any) error {
	strict, err := kjson.UnmarshalStrict(data, v, kjson.DisallowUnknownFields, kjson.DisallowDuplicateFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

var (
	schemasOnce sync.Once
	schemas     map[string]*jsonschema.Schema
	schemasErr  error
)

// schemaFor compiles every schema once and returns the one of gvk. Every file of
// schemas/ is a resource of the compiler, so that schemas can refer to common.json.
func schemaFor(gvk string) (*jsonschema.Schema, error) {
	schemasOnce.Do(func() { schemas, schemasErr = compileSchemas() })
	if schemasErr != nil {
		return nil, schemasErr
	}
	return schemas[gvk], nil
}

func compileSchemas() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	files, err := fs.Glob(schemaFS, "schemas/*.json")
	if err != nil {
		return nil, err
	}
	for _, file := range files {
		raw, err := schemaFS.ReadFile(file)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if err := c.AddResource(schemaBase+file, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for kind, file := range schemaFiles {
		if out[kind], err = c.Compile(schemaBase + file); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return out, nil
}

// schemaBase is the base URL the schemas are known by (nothing is fetched from it).
const schemaBase = "https://ultimate-ticket.invalid/deploy/k8s/validate/"
