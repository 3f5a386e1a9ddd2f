package contract

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// base returns the Python JSON vector of tag as a generic tree with int64 and
// float64 numbers, ready to mutate and re-encode with either codec.
func base(t *testing.T, tag string) map[string]any {
	t.Helper()
	return normalise(genericJSON(t, readVector(t, tag+".json"))).(map[string]any)
}

// set replaces (or with del, removes) the value at a dotted path such as
// "tracks.0.x1" or "layout.zones.1.polygon.2.0".
func set(root map[string]any, path string, value any, del bool) {
	parts := strings.Split(path, ".")
	var node any = root
	for i, p := range parts {
		last := i == len(parts)-1
		switch n := node.(type) {
		case map[string]any:
			if last {
				if del {
					delete(n, p)
				} else {
					n[p] = value
				}
				return
			}
			node = n[p]
		case []any:
			idx, _ := strconv.Atoi(p)
			if last {
				n[idx] = value
				return
			}
			node = n[idx]
		}
	}
}

type deleted struct{}

var invalidCases = []struct {
	name     string
	tag      string
	path     string // dotted path to mutate
	value    any    // deleted{} removes the field
	wantPath string
	wantErr  error
	jsonOK   bool // false where JSON cannot carry the value (NaN, inf)
}{
	{"bad store id upper case", "pos_transaction", "store_id", "Store-1", "$.store_id", ErrInvalid, true},
	{"bad id trailing newline", "pos_transaction", "store_id", "store-001\n", "$.store_id", ErrInvalid, true},
	{"bad id too long", "track_frame", "camera_id", strings.Repeat("a", 33), "$.camera_id", ErrInvalid, true},
	{"bad id leading dash", "zone_entered", "zone_id", "-zone", "$.zone_id", ErrInvalid, true},
	{"NaN coordinate", "track_frame", "tracks.1.x1", math.NaN(), "$.tracks[1].x1", ErrInvalid, false},
	{"NaN metres", "track_frame", "tracks.0.floor_y_m", math.NaN(), "$.tracks[0].floor_y_m", ErrInvalid, false},
	{"inf alert value", "alert_raised", "value", math.Inf(1), "$.value", ErrInvalid, false},
	{"coordinate above 1", "track_frame", "tracks.0.y2", 1.5, "$.tracks[0].y2", ErrInvalid, true},
	{"metres out of range", "track_frame", "tracks.0.floor_x_m", 2e5, "$.tracks[0].floor_x_m", ErrInvalid, true},
	{"box x1 > x2", "track_frame", "tracks.0.x1", 0.9, "$.tracks[0]", ErrInvalid, true},
	{"floor only x", "track_frame", "tracks.1.floor_x_m", 1.0, "$.tracks[1]", ErrInvalid, true},
	{"bad track state", "track_frame", "tracks.0.state", "gone", "$.tracks[0].state", ErrInvalid, true},
	{"unknown tag", "pos_transaction", "type", "pos_refund", "$.type", ErrUnknownType, true},
	{"tag not a string", "pos_transaction", "type", int64(3), "$.type", ErrUnknownType, true},
	{"missing tag", "pos_transaction", "type", deleted{}, "$.type", ErrInvalid, true},
	{"wrong type str for int", "pos_transaction", "item_count", "3", "$.item_count", ErrInvalid, true},
	{"wrong type float for int", "pos_transaction", "item_count", 3.0, "$.item_count", ErrInvalid, false}, // json.Marshal writes 3.0 as 3
	{"wrong type bool for int", "edge_status", "frames_dropped", true, "$.frames_dropped", ErrInvalid, true},
	{"wrong type int for str", "track_frame", "edge_run_id", int64(7), "$.edge_run_id", ErrInvalid, true},
	{"wrong type tracks not array", "track_frame", "tracks", "none", "$.tracks", ErrInvalid, true},
	{"wrong type track not object", "track_frame", "tracks.0", int64(1), "$.tracks[0]", ErrInvalid, true},
	{"wrong type int for bool", "visit_ended", "is_staff", int64(0), "$.is_staff", ErrInvalid, true},
	{"int above int64", "track_closed", "ts_ns", uint64(math.MaxUint64), "$.ts_ns", ErrInvalid, false},
	{"negative ts", "track_closed", "first_ts_ns", int64(-1), "$.first_ts_ns", ErrInvalid, true},
	{"missing required field", "pos_transaction", "currency", deleted{}, "$.currency", ErrInvalid, true},
	{"missing nullable required zone_id", "occupancy_sampled", "zone_id", deleted{}, "$.zone_id", ErrInvalid, true},
	{"bad currency", "pos_transaction", "currency", "eur", "$.currency", ErrInvalid, true},
	{"amount out of range", "pos_transaction", "amount_minor", int64(1<<62 + 1), "$.amount_minor", ErrInvalid, true},
	{"bad version", "edge_status", "detector", "mog2 1.0", "$.detector", ErrInvalid, true},
	{"empty source event id", "zone_exited", "source_event_id", "", "$.source_event_id", ErrInvalid, true},
	{"bad direction", "line_crossed", "direction", "up", "$.direction", ErrInvalid, true},
	{"layout version 0", "layout_published", "version", int64(0), "$.version", ErrInvalid, true},
	{"singular homography", "layout_published", "layout.cameras.0.image_to_floor",
		[]any{1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 0.0, 0.0, 1.0}, "$.layout.cameras[0].image_to_floor", ErrInvalid, true},
	{"homography length", "layout_published", "layout.cameras.0.image_to_floor", []any{1.0, 0.0}, "$.layout.cameras[0].image_to_floor", ErrInvalid, true},
	{"polygon too short", "layout_published", "layout.zones.0.polygon", []any{[]any{0.0, 0.0}, []any{1.0, 1.0}}, "$.layout.zones[0].polygon", ErrInvalid, true},
	{"polygon self-intersecting", "layout_published", "layout.zones.1.polygon",
		[]any{[]any{0.0, 0.0}, []any{2.0, 2.0}, []any{2.0, 0.0}, []any{0.0, 2.0}}, "$.layout.zones[1].polygon", ErrInvalid, true},
	{"polygon too many points", "layout_published", "layout.zones.0.polygon", circle(1001), "$.layout.zones[0].polygon", ErrInvalid, true},
	{"polygon point out of range", "layout_published", "layout.zones.2.polygon.1.0", 1e6, "$.layout.zones[2].polygon[1][0]", ErrInvalid, true},
	{"duplicate zone id", "layout_published", "layout.zones.1.zone_id", "entrance", "$.layout.zones[1].zone_id", ErrInvalid, true},
	{"rule names missing zone", "layout_published", "layout.rules.0.zone_id", "nowhere", "$.layout.rules[0].zone_id", ErrInvalid, true},
	{"bad zone kind", "layout_published", "layout.zones.0.kind", "garden", "$.layout.zones[0].kind", ErrInvalid, true},
	{"line too short", "layout_published", "layout.lines.0.b", []any{0.0, 1.01}, "$.layout.lines[0]", ErrInvalid, true},
	{"label too long", "layout_published", "layout.zones.0.label", strings.Repeat("é", 65), "$.layout.zones[0].label", ErrInvalid, true},
}

func TestRejectInvalidVariants(t *testing.T) {
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			doc := base(t, tc.tag)
			_, del := tc.value.(deleted)
			set(doc, tc.path, tc.value, del)
			mp, err := msgpack.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			type codec struct {
				name   string
				decode func([]byte) (Event, error)
				data   []byte
			}
			codecs := []codec{{"msgpack", DecodeMsgpack, mp}}
			if tc.jsonOK {
				js, err := json.Marshal(doc)
				if err != nil {
					t.Fatal(err)
				}
				codecs = append(codecs, codec{"json", DecodeJSON, js})
			}
			for _, c := range codecs {
				ev, err := c.decode(c.data)
				if err == nil {
					t.Fatalf("%s: accepted invalid event %#v", c.name, ev)
				}
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("%s: error %v is not a *FieldError", c.name, err)
				}
				if fe.Path != tc.wantPath {
					t.Errorf("%s: error path %q, want %q (error: %v)", c.name, fe.Path, tc.wantPath, err)
				}
				if !errors.Is(err, tc.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Errorf("%s: error %v does not match %v", c.name, err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantPath) {
					t.Errorf("%s: message %q does not name the path", c.name, err)
				}
			}
		})
	}
}

var acceptCases = []struct {
	name  string
	tag   string
	path  string
	value any
}{
	{"unknown event field ignored", "track_frame", "firmware", "1.2"},
	{"unknown track field ignored", "track_frame", "tracks.0.colour", "red"},
	// A layout read from the log is event content: a newer writer's fields are ignored at every level.
	{"unknown layout field ignored", "layout_published", "layout.floors", int64(2)},
	{"unknown camera field ignored", "layout_published", "layout.cameras.0.fov", 90.0},
	{"unknown zone field ignored", "layout_published", "layout.zones.1.capacity", int64(40)},
	{"unknown line field ignored", "layout_published", "layout.lines.0.height_m", 2.1},
	{"unknown rule field ignored", "layout_published", "layout.rules.0.escalate_to", "duty-manager"},
	// A newer writer's severity or metric is kept from the log (refused only in config and submitted layouts).
	{"unknown severity from the log kept", "layout_published", "layout.rules.0.severity", "high"},
	{"unknown metric from the log kept", "layout_published", "layout.rules.0.metric", "basket_abandonment"},
	{"int for float field", "track_frame", "tracks.0.score", int64(1)},
	{"default state", "track_frame", "tracks.0.state", deleted{}},
	{"default floor both missing", "track_frame", "tracks.1.floor_x_m", deleted{}},
	{"default is_staff", "visit_ended", "is_staff", deleted{}},
	{"default group id", "visit_ended", "group_id", deleted{}},
	{"negative amount", "pos_transaction", "amount_minor", int64(-1299)},
	{"default camera size", "layout_published", "layout.cameras.0.image_width_px", deleted{}},
	{"polygon of the most points", "layout_published", "layout.zones.0.polygon", circle(1000)},
}

// circle returns a convex (so simple) polygon of n points on a 1 m circle,
// as generic values.
func circle(n int) []any {
	pts := make([]any, n)
	for i := range pts {
		a := 2 * math.Pi * float64(i) / float64(n)
		pts[i] = []any{math.Cos(a), math.Sin(a)}
	}
	return pts
}

func TestAcceptValidVariants(t *testing.T) {
	for _, tc := range acceptCases {
		t.Run(tc.name, func(t *testing.T) {
			doc := base(t, tc.tag)
			_, del := tc.value.(deleted)
			set(doc, tc.path, tc.value, del)
			mp, err := msgpack.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			a, err := DecodeMsgpack(mp)
			if err != nil {
				t.Fatalf("msgpack: %v", err)
			}
			b, err := DecodeJSON(js)
			if err != nil {
				t.Fatalf("json: %v", err)
			}
			ma, _ := MarshalMsgpack(a)
			mb, _ := MarshalMsgpack(b)
			if string(ma) != string(mb) {
				t.Fatalf("codecs disagree")
			}
		})
	}
}

func TestMalformedInput(t *testing.T) {
	cases := []struct {
		name   string
		decode func([]byte) (Event, error)
		data   []byte
	}{
		{"empty msgpack", DecodeMsgpack, nil},
		{"truncated msgpack", DecodeMsgpack, []byte{0x82, 0xa4, 't', 'y'}},
		{"trailing msgpack", DecodeMsgpack, []byte{0x80, 0x80}},
		{"bin value", DecodeMsgpack, []byte{0x81, 0xa1, 'x', 0xc4, 0x01, 0x00}},
		{"int map key", DecodeMsgpack, []byte{0x81, 0x01, 0x02}},
		{"bad json", DecodeJSON, []byte(`{"type":`)},
		{"trailing json", DecodeJSON, []byte(`{} {}`)},
		{"invalid utf8 json", DecodeJSON, []byte("{\"type\":\"\xff\"}")},
		{"float literal for int json", DecodeJSON, []byte(`{"type":"pos_transaction","store_id":"s","ts_ns":1,"terminal_id":"t","transaction_id":"x","item_count":3.0,"amount_minor":1,"currency":"EUR"}`)},
		{"exponent literal for int json", DecodeJSON, []byte(`{"type":"pos_transaction","store_id":"s","ts_ns":1e3,"terminal_id":"t","transaction_id":"x","item_count":3,"amount_minor":1,"currency":"EUR"}`)},
		{"deep json", DecodeJSON, []byte(strings.Repeat("[", 100) + strings.Repeat("]", 100))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.decode(tc.data)
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want a malformed-input error", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Path == "" {
				t.Fatalf("error %v names no path", err)
			}
		})
	}
}

func TestEventIDsMatchPython(t *testing.T) {
	want := map[string]string{
		TagTrackFrame:       "cam-entrance:run-7f3a9c:1200",
		TagTrackClosed:      "cam-entrance:run-7f3a9c:closed:42",
		TagEdgeStatus:       "cam-entrance:run-7f3a9c:status:7",
		TagLayoutPublished:  "store-001:layout:3",
		TagZoneEntered:      "cam-entrance:run-7f3a9c:1200:zones-1.0.0:enter:produce:42",
		TagZoneExited:       "cam-entrance:run-7f3a9c:1200:zones-1.0.0:exit:produce:42",
		TagLineCrossed:      "cam-entrance:run-7f3a9c:1200:zones-1.0.0:line:door:42",
		TagVisitEnded:       "cam-entrance:run-7f3a9c:1200:zones-1.0.0:visit:42",
		TagQueueSampled:     "store-001:zones-1.0.0:queue:queue-1:1767225600000000000",
		TagOccupancySampled: "store-001:zones-1.0.0:occupancy:_store:1767225600000000000",
		TagAlertRaised:      "store-001:alerts-1.0.0:raised:long-queue:1767225600000000000",
		TagAlertCleared:     "store-001:alerts-1.0.0:cleared:store-full:1767225600000000060",
		TagPosTransaction:   "store-001:pos:till-2:t-000981",
	}
	subjects := map[string]string{
		TagTrackFrame: "ff.v1.store-001.cam-entrance.tracks", TagTrackClosed: "ff.v1.store-001.cam-entrance.tracks",
		TagEdgeStatus: "ff.v1.store-001.cam-entrance.status", TagLayoutPublished: "ff.v1.store-001.layout",
		TagZoneEntered: "ff.v1.store-001.zones", TagZoneExited: "ff.v1.store-001.zones",
		TagLineCrossed: "ff.v1.store-001.zones", TagVisitEnded: "ff.v1.store-001.zones",
		TagQueueSampled: "ff.v1.store-001.zones", TagOccupancySampled: "ff.v1.store-001.zones",
		TagAlertRaised: "ff.v1.store-001.alerts", TagAlertCleared: "ff.v1.store-001.alerts",
		TagPosTransaction: "ff.v1.store-001.pos",
	}
	for _, e := range SampleEvents() {
		if got := e.EventID(); got != want[e.Tag()] {
			t.Errorf("%s: event id %q, want %q", e.Tag(), got, want[e.Tag()])
		}
		if got := e.Subject(); got != subjects[e.Tag()] {
			t.Errorf("%s: subject %q, want %q", e.Tag(), got, subjects[e.Tag()])
		}
		if err := e.Validate(); err != nil {
			t.Errorf("%s: sample invalid: %v", e.Tag(), err)
		}
	}
}

// A bowtie has zero signed area and crossing edges; like schemas/layout.py, the reason names the crossing.
func TestBowtieIsNamedSelfIntersecting(t *testing.T) {
	got := polygonReason([]Point{{0, 0}, {2, 2}, {2, 0}, {0, 2}})
	if !strings.HasPrefix(got, "polygon is self-intersecting") {
		t.Fatalf("bowtie reason = %q, want it to name the self-intersection", got)
	}
	if got := polygonReason([]Point{{0, 0}, {1, 1}, {2, 2}}); got != "polygon has zero area" {
		t.Fatalf("collinear reason = %q, want zero area", got)
	}
}
