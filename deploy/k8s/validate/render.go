package main

import (
	"errors"
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// object is one rendered manifest: its identity, its JSON, and, once decoded, its
// typed form (a pointer to a Kubernetes or Prometheus Operator type, or the generic
// map of a schema-checked custom resource).
type object struct {
	APIVersion, Kind, Namespace, Name string
	JSON                              []byte
	Typed                             any
}

func (o *object) id() string {
	id := o.APIVersion + " " + o.Kind + " " + o.Name
	if o.Namespace != "" {
		id += " (namespace " + o.Namespace + ")"
	}
	return id
}

// objectsMax bounds what one kustomization may render; more is a mistake.
const objectsMax = 500

// render runs kustomize on dir, with its default options: no plugins, no remote
// bases, no file outside the kustomization's root.
func render(dir string) ([]*object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	if m.Size() > objectsMax {
		return nil, fmt.Errorf("%d objects rendered, more than %d", m.Size(), objectsMax)
	}
	var out []*object
	var errs []error
	for _, r := range m.Resources() {
		js, err := r.MarshalJSON()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.CurId(), err))
			continue
		}
		out = append(out, &object{APIVersion: r.GetApiVersion(), Kind: r.GetKind(),
			Namespace: r.GetNamespace(), Name: r.GetName(), JSON: js})
	}
	if len(out) == 0 && len(errs) == 0 {
		return nil, errors.New("kustomize rendered nothing")
	}
	return out, errors.Join(errs...)
}
