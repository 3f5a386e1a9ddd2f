package contract

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// invalidRuleCase is one entry of schemas/vectors/rules/invalid_layouts.json:
// a layout whose rules (or time zone) Python refuses, with its path and reason.
type invalidRuleCase struct {
	Name   string         `json:"name"`
	Layout map[string]any `json:"layout"`
	Path   string         `json:"path"`
	Reason string         `json:"reason"`
}

func readInvalidRuleCases(t *testing.T) []invalidRuleCase {
	t.Helper()
	dir, err := FindVectorsDir()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "rules", "invalid_layouts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []invalidRuleCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 15 {
		t.Fatalf("only %d invalid rule cases", len(cases))
	}
	return cases
}

// checkSameRefusal: the same path as Python; the same reason where the fault is
// a layout's own check, the same rule prefix where a bound or format is worded
// by each side's decoder ("Expected `float` >= 0.0" / "in [0, 1e+12]").
func checkSameRefusal(t *testing.T, err error, path, reason string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *FieldError", err)
	}
	if fe.Path != path {
		t.Errorf("path %s, want %s (%v)", fe.Path, path, err)
	}
	if i := strings.Index(reason, "Expected `"); i >= 0 {
		if !strings.HasPrefix(fe.Reason, reason[:i]+"Expected `") {
			t.Errorf("reason %q, want it to start %q", fe.Reason, reason[:i+10])
		}
	} else if fe.Reason != reason {
		t.Errorf("reason %q, want %q", fe.Reason, reason)
	}
}

// TestInvalidRulesRefusedLikePython: every invalid-rule layout of the shared
// vectors is refused as a config file at Python's path with Python's reason,
// and as a submitted LayoutPublished (go-ingest's publish path) under $.layout.
func TestInvalidRulesRefusedLikePython(t *testing.T) {
	for _, tc := range readInvalidRuleCases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			data, err := json.Marshal(tc.Layout)
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeLayoutJSON(data)
			checkSameRefusal(t, err, tc.Path, tc.Reason)
			lp := map[string]any{"type": TagLayoutPublished, "store_id": sampleStore, "ts_ns": sampleTs, "version": int64(3),
				"effective_from_ns": int64(0), "layout": tc.Layout}
			v, err := ReadJSON(mustJSON(t, lp))
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeSubmittedValue(v)
			checkSameRefusal(t, err, "$.layout"+tc.Path[1:], tc.Reason)
		})
	}
}

// TestNewerMetricFromTheLogIsKept: a LayoutPublished read from the log with a
// rule whose metric and severity this version does not know (a newer
// writer's) decodes, keeping the rule (IsKnown false); submitted for
// publishing, it is refused naming the rule and field.
func TestNewerMetricFromTheLogIsKept(t *testing.T) {
	var sample Event
	for _, e := range SampleEvents() {
		if e.Tag() == TagLayoutPublished {
			sample = e
		}
	}
	js, err := MarshalJSON(sample)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ReadJSON(js)
	rule := v.(map[string]any)["layout"].(map[string]any)["rules"].([]any)[0].(map[string]any)
	rule["metric"] = "basket_abandonment"
	rule["zone_id"] = nil
	rule["severity"] = "page"
	ev, err := DecodeValue(v)
	if err != nil {
		t.Fatalf("log reader refused a newer metric: %v", err)
	}
	got := ev.(*LayoutPublished).Layout.Rules[0]
	if got.Metric != "basket_abandonment" || got.IsKnown() || got.ZoneID != nil {
		t.Fatalf("rule = %+v", got)
	}
	if !ev.(*LayoutPublished).Layout.Rules[1].IsKnown() {
		t.Fatal("a known rule reads as unknown")
	}
	_, err = DecodeSubmittedValue(v)
	checkSameRefusal(t, err, "$.layout.rules[0].metric",
		"rules[0] (rule_id 'long-queue'): metric 'basket_abandonment' is not a known metric (metrics: "+
			strings.Join(Metrics, ", ")+")")
}

// TestRuleDefaults: omitted optional rule fields and time zone take Python's defaults.
func TestRuleDefaults(t *testing.T) {
	l, err := DecodeLayoutJSON([]byte(`{"zones":[{"zone_id":"q","kind":"queue","polygon":[[0,0],[1,0],[1,1]]}],` +
		`"rules":[{"rule_id":"r","zone_id":"q","metric":"queue_length","threshold":3},` +
		`{"rule_id":"s","metric":"occupancy","threshold":30}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := l.Rules[0]
	if r.Severity != "warning" || r.ClearBelow != nil || r.ClearAfterS != 0 || r.RadiusM != nil || r.ActiveHours != nil ||
		l.TimeZone != "UTC" || l.Rules[1].ZoneID != nil {
		t.Fatalf("defaults: %+v %+v tz %q", r, l.Rules[1], l.TimeZone)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
