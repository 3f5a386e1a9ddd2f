package fuzz

import (
	"errors"
	"strings"
	"testing"

	"encoding/json"
	"os"
	"path/filepath"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/footfall/footfall/go-ingest/contract"
	. "github.com/footfall/footfall/go-ingest/ingest"
)

// seeds returns the golden event vectors as batches in both encodings.
func seeds(f *testing.F) (jsonBatch, msgpackBatch, one []byte) {
	dir, err := contract.FindVectorsDir()
	if err != nil {
		f.Fatal(err)
	}
	var docs []any
	for _, tag := range contract.Tags {
		raw, err := os.ReadFile(filepath.Join(dir, tag+".msgpack"))
		if err != nil {
			f.Fatal(err)
		}
		v, err := contract.ReadMsgpack(raw)
		if err != nil {
			f.Fatal(err)
		}
		docs = append(docs, v)
	}
	jsonBatch, _ = json.Marshal(map[string]any{"events": docs})
	msgpackBatch, _ = msgpack.Marshal(docs)
	one, _ = msgpack.Marshal(docs[:1])
	return jsonBatch, msgpackBatch, one
}

// Package fuzz holds the request-decoder fuzz test, in its own package so the
// fuzz binary does not link (and instrument) the nats-server used by the
// ingest tests.
//
// FuzzDecodeBatch feeds arbitrary bodies to the request decoder in both
// encodings. It must never panic; a body is either refused with a
// *contract.FieldError naming a path, or every item is exactly one of a valid
// event for the store (which re-encodes and decodes to the same bytes) or a
// *contract.FieldError.
//
//	go test -run='^$' -fuzz=FuzzDecodeBatch -fuzztime=50000x ./internal/fuzz
func FuzzDecodeBatch(f *testing.F) {
	jb, mb, one := seeds(f)
	f.Add(jb, true)
	f.Add(mb, false)
	f.Add(one, false)
	f.Add([]byte(`{"events":[{"type":"pos_transaction","store_id":"store-001","ts_ns":1e3}]}`), true)
	f.Add([]byte(`[{"type":"nope"}, 1, null, "x", [[]]]`), true)
	f.Add([]byte{0x91, 0x81, 0xa4, 't', 'y', 'p', 'e', 0xc4, 0x00}, false)
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		enc := EncodingMsgpack
		if isJSON {
			enc = EncodingJSON
		}
		items, err := DecodeBatch(enc, body, "store-001")
		if err != nil {
			var fe *contract.FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Path, "$") {
				t.Fatalf("batch error %v is not a FieldError with a path", err)
			}
			return
		}
		for i, it := range items {
			if (it.Event == nil) == (it.Err == nil) {
				t.Fatalf("item %d: want exactly one of event and error, got %v / %v", i, it.Event, it.Err)
			}
			if it.Err != nil {
				var fe *contract.FieldError
				if !errors.As(it.Err, &fe) || !strings.HasPrefix(fe.Path, "$") {
					t.Fatalf("item %d: error %v is not a FieldError with a path", i, it.Err)
				}
				continue
			}
			if it.Event.Store() != "store-001" {
				t.Fatalf("item %d: accepted store %q", i, it.Event.Store())
			}
			b, err := contract.MarshalMsgpack(it.Event)
			if err != nil {
				t.Fatalf("item %d: re-encoding: %v", i, err)
			}
			again, err := contract.DecodeMsgpack(b)
			if err != nil {
				t.Fatalf("item %d: canonical encoding does not decode: %v", i, err)
			}
			b2, _ := contract.MarshalMsgpack(again)
			if string(b) != string(b2) {
				t.Fatalf("item %d: canonical encoding is not stable", i)
			}
		}
	})
}
