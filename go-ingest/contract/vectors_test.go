package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

var update = flag.Bool("update", false, "rewrite schemas/vectors/go from the Go samples")

func vectorsDir(t testing.TB) string {
	t.Helper()
	dir, err := FindVectorsDir()
	if err != nil {
		t.Fatalf("finding golden vectors: %v", err)
	}
	return dir
}

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorsDir(t), name))
	if err != nil {
		t.Fatalf("reading vector: %v", err)
	}
	return b
}

// normalise turns a generic value from either codec into a comparable tree:
// integers as int64 (or uint64), other numbers as float64, and whole floats
// equal to their integer form compare equal through numEqual.
func normalise(v any) any {
	switch x := v.(type) {
	case json.Number:
		if isJSONInt(x) {
			if n, err := x.Int64(); err == nil {
				return n
			}
		}
		f, _ := x.Float64()
		return f
	case int8, int16, int32, int:
		return reflect.ValueOf(x).Int()
	case uint8, uint16, uint32, uint:
		return int64(reflect.ValueOf(x).Uint())
	case float32:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalise(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalise(e)
		}
		return out
	}
	return v
}

func sameContent(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !sameContent(x[k], y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameContent(x[i], y[i]) {
				return false
			}
		}
		return true
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y // JSON writes 12.0 as 12
		}
		return false
	case float64:
		switch y := b.(type) {
		case float64:
			return x == y
		case int64:
			return x == float64(y)
		}
		return false
	}
	return reflect.DeepEqual(a, b)
}

func genericJSON(t testing.TB, b []byte) any {
	t.Helper()
	v, err := ReadJSON(b)
	if err != nil {
		t.Fatalf("reading JSON: %v", err)
	}
	return normalise(v)
}

func genericMsgpack(t testing.TB, b []byte) any {
	t.Helper()
	v, err := ReadMsgpack(b)
	if err != nil {
		t.Fatalf("reading MessagePack: %v", err)
	}
	return normalise(v)
}

func vectorTags(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(vectorsDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".msgpack"); ok && name != "store_layout" {
			tags = append(tags, name)
		}
	}
	sort.Strings(tags)
	want := append([]string(nil), Tags...)
	sort.Strings(want)
	if !reflect.DeepEqual(tags, want) {
		t.Fatalf("vector tags %v, want one per event type %v", tags, want)
	}
	return tags
}

func TestGoldenEventVectors(t *testing.T) {
	samples := map[string]Event{}
	for _, e := range SampleEvents() {
		samples[e.Tag()] = e
	}
	for _, tag := range vectorTags(t) {
		t.Run(tag, func(t *testing.T) {
			mp := readVector(t, tag+".msgpack")
			js := readVector(t, tag+".json")

			fromMP, err := DecodeMsgpack(mp)
			if err != nil {
				t.Fatalf("decoding msgpack vector: %v", err)
			}
			fromJS, err := DecodeJSON(js)
			if err != nil {
				t.Fatalf("decoding JSON vector: %v", err)
			}
			if fromMP.Tag() != tag {
				t.Fatalf("decoded tag %q, want %q", fromMP.Tag(), tag)
			}
			if !reflect.DeepEqual(fromMP, fromJS) {
				t.Fatalf("msgpack and JSON vectors decode differently:\n%#v\n%#v", fromMP, fromJS)
			}
			if !reflect.DeepEqual(fromMP, samples[tag]) {
				t.Fatalf("vector differs from the Go sample:\n%#v\n%#v", fromMP, samples[tag])
			}

			reMP, err := MarshalMsgpack(fromMP)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(reMP, mp) {
				t.Errorf("msgpack re-encoding is not byte-identical:\n got %x\nwant %x", reMP, mp)
			}
			if !sameContent(genericMsgpack(t, reMP), genericMsgpack(t, mp)) {
				t.Errorf("msgpack re-encoding differs in content")
			}
			reJS, err := MarshalJSON(fromJS)
			if err != nil {
				t.Fatal(err)
			}
			if !sameContent(genericJSON(t, reJS), genericJSON(t, js)) {
				t.Errorf("JSON re-encoding differs in content:\n got %s\nwant %s", reJS, js)
			}
			if !sameContent(genericJSON(t, js), genericMsgpack(t, mp)) {
				t.Errorf("JSON and msgpack vectors differ in content")
			}
		})
	}
}

func TestGoldenLayoutVector(t *testing.T) {
	mp := readVector(t, "store_layout.msgpack")
	js := readVector(t, "store_layout.json")
	fromMP, err := DecodeLayoutMsgpack(mp)
	if err != nil {
		t.Fatalf("decoding msgpack layout: %v", err)
	}
	fromJS, err := DecodeLayoutJSON(js)
	if err != nil {
		t.Fatalf("decoding JSON layout: %v", err)
	}
	if want := SampleLayout(); !reflect.DeepEqual(*fromMP, want) || !reflect.DeepEqual(*fromJS, want) {
		t.Fatalf("layout vector differs from the Go sample:\n%#v\n%#v", *fromMP, want)
	}
	reMP, err := MarshalLayoutMsgpack(fromMP)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reMP, mp) {
		t.Errorf("layout msgpack re-encoding is not byte-identical:\n got %x\nwant %x", reMP, mp)
	}
	reJS, err := json.Marshal(fromJS)
	if err != nil {
		t.Fatal(err)
	}
	if !sameContent(genericJSON(t, reJS), genericJSON(t, js)) {
		t.Errorf("layout JSON re-encoding differs in content:\n got %s\nwant %s", reJS, js)
	}
}

// TestGoVectorsUpToDate checks that regenerating schemas/vectors/go changes
// nothing (run with -update to rewrite them), and that the Go encodings equal
// the Python ones: byte for byte in MessagePack, in content in JSON.
func TestGoVectorsUpToDate(t *testing.T) {
	goDir := filepath.Join(vectorsDir(t), "go")
	vectors, err := GoVectors()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := WriteGoVectors(goDir); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range vectors {
		got, err := os.ReadFile(filepath.Join(goDir, name))
		if err != nil {
			t.Fatalf("reading Go vector (regenerate with `go run ./cmd/vectors`): %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: regenerate with `go run ./cmd/vectors`", name)
		}
		py := readVector(t, name)
		if strings.HasPrefix(name, EvolutionDir+"/") {
			// Generic trees: Go writes keys sorted, Python in declaration order; the content must agree.
			gen := genericJSON
			if strings.HasSuffix(name, ".msgpack") {
				gen = genericMsgpack
			}
			if !sameContent(gen(t, want), gen(t, py)) {
				t.Errorf("%s: Go content differs from Python's", name)
			}
		} else if strings.HasSuffix(name, ".msgpack") {
			if !bytes.Equal(want, py) {
				t.Errorf("%s: Go msgpack differs from Python's:\n got %x\nwant %x", name, want, py)
			}
		} else if !sameContent(genericJSON(t, want), genericJSON(t, py)) {
			t.Errorf("%s: Go JSON differs in content from Python's", name)
		}
	}
	err = filepath.WalkDir(goDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(goDir, p)
		if err != nil {
			return err
		}
		if _, ok := vectors[filepath.ToSlash(rel)]; !ok {
			t.Errorf("unexpected file %s in %s", rel, goDir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// layoutLevels are the unknown fields of NewerLayoutFields inside the layout,
// and the path a config file's error names for each: the same as Python's
// (tests/schemas/test_layout_evolution.py LAYOUT_LEVELS).
var layoutLevels = []struct{ place, path string }{
	{"layout", "$.future_floors"},
	{"layout.cameras.0", "$.cameras[0].future_fov_deg"},
	{"layout.zones.1", "$.zones[1].future_capacity"},
	{"layout.lines.0", "$.lines[0].future_height_m"},
	{"layout.rules.0", "$.rules[0].future_notify"},
}

func sampleLayoutPublished() Event {
	for _, e := range SampleEvents() {
		if e.Tag() == TagLayoutPublished {
			return e
		}
	}
	panic("no LayoutPublished sample")
}

// TestNewerLayoutVector: the LayoutPublished a newer writer sent (Python's
// vector, and Go's own) decodes, its unknown fields ignored at every level, to
// the sample; its layout as a config file is refused at the same path as in
// Python.
func TestNewerLayoutVector(t *testing.T) {
	want := sampleLayoutPublished()
	for _, dir := range []string{EvolutionDir, "go/" + EvolutionDir} {
		mp := readVector(t, dir+"/layout_published_newer.msgpack")
		js := readVector(t, dir+"/layout_published_newer.json")
		generic := genericMsgpack(t, mp).(map[string]any)
		zone := generic["layout"].(map[string]any)["zones"].([]any)[1].(map[string]any)
		if zone["future_capacity"] != int64(40) {
			t.Fatalf("%s: the vector lacks its newer fields: %v", dir, zone)
		}
		fromMP, err := DecodeMsgpack(mp)
		if err != nil {
			t.Fatalf("%s: decoding newer msgpack: %v", dir, err)
		}
		fromJS, err := DecodeJSON(js)
		if err != nil {
			t.Fatalf("%s: decoding newer JSON: %v", dir, err)
		}
		if !reflect.DeepEqual(fromMP, want) || !reflect.DeepEqual(fromJS, want) {
			t.Fatalf("%s: known content differs from the sample:\n%#v\n%#v", dir, fromMP, want)
		}
		// Submitted for publishing, the same event is refused: this writer would drop the fields.
		if _, err := DecodeSubmittedValue(generic); err == nil || !strings.Contains(err.Error(), "$.layout.future_floors") {
			t.Fatalf("%s: DecodeSubmittedValue = %v, want the unknown layout field refused", dir, err)
		}
		layoutJS, err := json.Marshal(genericJSON(t, js).(map[string]any)["layout"])
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeLayoutJSON(layoutJS)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Path != "$.future_floors" {
			t.Fatalf("%s: config decode of the newer layout = %v, want an error at $.future_floors", dir, err)
		}
	}
}

// TestUnknownLayoutFieldAtEachLevel: one unknown field at a time is ignored
// in the event and refused in a config file (JSON and MessagePack) naming its
// path and value, like Python's decode_layout_json.
func TestUnknownLayoutFieldAtEachLevel(t *testing.T) {
	want := sampleLayoutPublished()
	extras := NewerLayoutFields()
	for _, lv := range layoutLevels {
		t.Run(lv.place, func(t *testing.T) {
			doc := base(t, TagLayoutPublished)
			for k, v := range extras[lv.place] {
				set(doc, lv.place+"."+k, v, false)
			}
			mp, err := msgpack.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if ev, err := DecodeMsgpack(mp); err != nil || !reflect.DeepEqual(ev, want) {
				t.Fatalf("event decode = %v, %v; want the sample", ev, err)
			}
			layoutMP, err := msgpack.Marshal(doc["layout"])
			if err != nil {
				t.Fatal(err)
			}
			layoutJS, err := json.Marshal(doc["layout"])
			if err != nil {
				t.Fatal(err)
			}
			_, errMP := DecodeLayoutMsgpack(layoutMP)
			_, errJS := DecodeLayoutJSON(layoutJS)
			for _, err := range []error{errMP, errJS} {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Path != lv.path || !errors.Is(err, ErrInvalid) {
					t.Fatalf("config decode = %v, want an error at %s", err, lv.path)
				}
				if !fe.HasValue || !strings.Contains(fe.Reason, "unknown field") {
					t.Errorf("config error %v does not name the unknown field with its value", err)
				}
			}
		})
	}
}
