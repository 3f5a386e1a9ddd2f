package contract

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
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
		if strings.HasSuffix(name, ".msgpack") {
			if !bytes.Equal(want, py) {
				t.Errorf("%s: Go msgpack differs from Python's:\n got %x\nwant %x", name, want, py)
			}
		} else if !sameContent(genericJSON(t, want), genericJSON(t, py)) {
			t.Errorf("%s: Go JSON differs in content from Python's", name)
		}
	}
	entries, err := os.ReadDir(goDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := vectors[e.Name()]; !ok {
			t.Errorf("unexpected file %s in %s", e.Name(), goDir)
		}
	}
}
