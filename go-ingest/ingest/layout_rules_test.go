package ingest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/footfall/footfall/go-ingest/contract"
)

// TestLayoutWithBadRuleIsNotPublished: go-ingest is the path layouts are
// published by. A LayoutPublished whose rule names an unknown zone, has a
// negative threshold or an unknown metric is rejected with a reason naming the
// rule and the field, and FF_LAYOUT on a real nats-server holds nothing; the
// sample layout (a rule of every metric) is then stored.
func TestLayoutWithBadRuleIsNotPublished(t *testing.T) {
	e := newEnv(t, nil, ServerConfig{})
	for _, tc := range []struct {
		name, field string
		value       any
		want        string
	}{
		{"unknown zone", "zone_id", "queu", "rules[0] (rule_id 'long-queue'): zone_id 'queu' is not a zone of this layout"},
		{"negative threshold", "threshold", -1.0, "rules[0] (rule_id 'long-queue'): threshold: Expected `float`"},
		{"unknown metric", "metric", "footfall", "rules[0] (rule_id 'long-queue'): metric 'footfall' is not a known metric"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, ct := range []string{ctJSON, ctMsgpack} {
				doc := docsOfTag(t, contract.TagLayoutPublished)[0].(map[string]any)
				rule := doc["layout"].(map[string]any)["rules"].([]any)[0].(map[string]any)
				rule[tc.field] = tc.value
				r := e.post(storeA, tokenA, ct, encodeBatch(t, ct, []any{doc}, true))
				if r.code == http.StatusOK && r.body.Stored != 0 {
					t.Fatalf("%s: stored a layout with a bad rule: %s", ct, r.raw)
				}
				if !strings.Contains(r.raw, tc.want) || !strings.Contains(r.raw, "$.layout.rules[0]."+tc.field) {
					t.Errorf("%s: reply %d %s does not name the rule and field (%q)", ct, r.code, r.raw, tc.want)
				}
				if n := e.count("FF_LAYOUT"); n != 0 {
					t.Fatalf("%s: FF_LAYOUT holds %d messages after the refusal", ct, n)
				}
			}
		})
	}
	r := e.post(storeA, tokenA, ctJSON, encodeBatch(t, ctJSON, docsOfTag(t, contract.TagLayoutPublished), true))
	if r.code != http.StatusOK || r.body.Stored != 1 || e.count("FF_LAYOUT") != 1 {
		t.Fatalf("the valid sample layout: %d %s, FF_LAYOUT %d", r.code, r.raw, e.count("FF_LAYOUT"))
	}
}
