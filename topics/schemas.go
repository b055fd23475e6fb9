package topics

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// schemaFS holds the JSON Schemas (draft 2020-12) of the outcome bodies, one file per
// outcome type: schemas/v<SchemaVersion>/<type>.json, whose $id is SchemaURI(type).
//
//go:embed schemas
var schemaFS embed.FS

// OutcomeTypes lists every outcome type the processor emits, in the order of their
// declaration.
var OutcomeTypes = []OutcomeType{
	OutZoneConfigured, OutHoldPlaced, OutHoldConfirmed, OutHoldReleased, OutHoldExpired,
	OutRequestRejected, OutRequestReplayed,
	OutQueueConfigured, OutQueueJoined, OutQueueOpened, OutQueuePositioned, OutQueueAdmitted,
	OutQueueAdmissionExpired, OutQueueSoldOut, OutQueueResumed,
	OutHoldPaymentStarted, OutPaymentRefundRequired, OutOrderRefunded,
}

func schemaDir() string { return "schemas/v" + strconv.Itoa(SchemaVersion) }

// Schema returns the JSON Schema of an outcome type's body for the current
// SchemaVersion, the same document that SchemaURI names.
func Schema(t OutcomeType) ([]byte, error) {
	if t == "" || strings.ContainsAny(string(t), "/\\") {
		return nil, fmt.Errorf("topics: no schema for event type %q", t)
	}
	b, err := schemaFS.ReadFile(path.Join(schemaDir(), string(t)+".json"))
	if err != nil {
		return nil, fmt.Errorf("topics: no schema for event type %q", t)
	}
	return b, nil
}

// SchemaTypes returns the outcome types that have a schema for the current
// SchemaVersion, sorted.
func SchemaTypes() []OutcomeType {
	entries, err := fs.ReadDir(schemaFS, schemaDir())
	if err != nil {
		return nil
	}
	var out []OutcomeType
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			out = append(out, OutcomeType(name))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
