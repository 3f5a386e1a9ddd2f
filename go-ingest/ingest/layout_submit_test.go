package ingest

import (
	"errors"
	"strings"
	"testing"

	"github.com/footfall/footfall/go-ingest/contract"
)

// TestSubmittedLayoutWithUnknownFieldIsRefused: this writer re-encodes every
// event canonically from the Go types, so a LayoutPublished whose layout
// carries fields it does not know is refused (naming the field), never
// published without them; an unknown field on an event itself is still
// ignored, as before.
func TestSubmittedLayoutWithUnknownFieldIsRefused(t *testing.T) {
	newer, err := contract.SampleNewerLayoutPublished()
	if err != nil {
		t.Fatal(err)
	}
	delete(newer["layout"].(map[string]any), "future_floors") // so the first unknown is deeper down
	pos := docsOfTag(t, contract.TagPosTransaction)[0].(map[string]any)
	pos["future_till_kind"] = "self-checkout"
	for _, ct := range []string{ctJSON, ctMsgpack} {
		enc := EncodingJSON
		if ct == ctMsgpack {
			enc = EncodingMsgpack
		}
		items, err := DecodeBatch(enc, encodeBatch(t, ct, []any{newer, pos}, true), "store-001")
		if err != nil {
			t.Fatal(err)
		}
		var fe *contract.FieldError
		if !errors.As(items[0].Err, &fe) || fe.Path != "$.layout.cameras[0].future_fov_deg" {
			t.Fatalf("%s: layout item = %+v, want refused at $.layout.cameras[0].future_fov_deg", ct, items[0])
		}
		if !strings.Contains(items[0].Err.Error(), "got 90") {
			t.Errorf("%s: error %v does not show the value", ct, items[0].Err)
		}
		if items[1].Err != nil || items[1].Event == nil {
			t.Fatalf("%s: POS item with an unknown field = %+v, want accepted", ct, items[1])
		}
	}
}
