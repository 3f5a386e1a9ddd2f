package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmihailenco/msgpack/v5"
)

// VectorsEnv names an environment variable that, when set, overrides where
// FindVectorsDir looks for the golden vectors.
const VectorsEnv = "FOOTFALL_VECTORS_DIR"

// ErrVectorsNotFound is returned by FindVectorsDir when no schemas/vectors
// directory exists above the working directory.
var ErrVectorsNotFound = errors.New("schemas/vectors not found")

// FindVectorsDir returns the golden-vector directory: $FOOTFALL_VECTORS_DIR if
// set, else the first schemas/vectors found walking up from the working
// directory (so it works from the module root, a package dir or the repo root).
func FindVectorsDir() (string, error) {
	if dir := os.Getenv(VectorsEnv); dir != "" {
		return dir, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding vectors: %w", err)
	}
	for {
		candidate := filepath.Join(dir, "schemas", "vectors")
		if st, err := os.Stat(candidate); err == nil && st.IsDir() {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrVectorsNotFound
		}
		dir = parent
	}
}

// GoVectors returns the Go-produced encodings of every sample value, keyed
// by file name (<tag>.msgpack and <tag>.json, plus store_layout.* and the
// newer-writer evolution/layout_published_newer.*), as written to
// schemas/vectors/go/.
func GoVectors() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, e := range SampleEvents() {
		mp, err := MarshalMsgpack(e)
		if err != nil {
			return nil, err
		}
		js, err := MarshalJSON(e)
		if err != nil {
			return nil, err
		}
		out[e.Tag()+".msgpack"] = mp
		out[e.Tag()+".json"] = js
	}
	layout := SampleLayout()
	mp, err := MarshalLayoutMsgpack(&layout)
	if err != nil {
		return nil, err
	}
	js, err := layout.MarshalJSON()
	if err != nil {
		return nil, err
	}
	out["store_layout.msgpack"] = mp
	out["store_layout.json"] = js
	newer, err := SampleNewerLayoutPublished()
	if err != nil {
		return nil, err
	}
	// A generic tree has no declaration order: keys sorted, so writing is deterministic.
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(true)
	if err := enc.Encode(newer); err != nil {
		return nil, err
	}
	js, err = json.Marshal(newer)
	if err != nil {
		return nil, err
	}
	out[EvolutionDir+"/layout_published_newer.msgpack"] = buf.Bytes()
	out[EvolutionDir+"/layout_published_newer.json"] = append(js, '\n')
	return out, nil
}

// WriteGoVectors writes GoVectors() into dir (schemas/vectors/go), creating
// it if needed. Writing is deterministic: running it twice changes nothing.
func WriteGoVectors(dir string) error {
	vectors, err := GoVectors()
	if err != nil {
		return fmt.Errorf("writing Go vectors: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing Go vectors: %w", err)
	}
	for name, b := range vectors {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			return fmt.Errorf("writing Go vectors: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("writing Go vectors: %w", err)
		}
	}
	return nil
}
