package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/footfall/footfall/go-ingest/contract"
)

var (
	// ErrUnauthenticated is returned by Authorize when no token was presented
	// or the token is unknown (HTTP 401).
	ErrUnauthenticated = errors.New("missing or unknown bearer token")
	// ErrForbidden is returned by Authorize when the token is valid but not
	// for the requested store (HTTP 403).
	ErrForbidden = errors.New("token may not write this store")
)

// Authorizer decides whether a bearer token may write a store's events.
type Authorizer interface {
	// Authorize returns nil, ErrUnauthenticated or ErrForbidden.
	Authorize(token, store string) error
}

// TokenFile is an Authorizer backed by a JSON file of token hashes:
//
//	{"tokens": [{"sha256": "<64 hex chars>", "stores": ["store-001"], "name": "pos-vendor-a"}]}
//
// Only SHA-256 hex digests of tokens are stored, never the tokens. Tokens are
// expected to be random secrets of 128 bits or more, so a fast hash is safe
// and keeps the per-request cost constant (bcrypt would cost milliseconds per
// request). Reload swaps the whole table atomically; a file that fails to
// parse leaves the previous table in force.
type TokenFile struct {
	path  string
	table atomic.Pointer[tokenTable]
}

type tokenTable map[[sha256.Size]byte]map[string]bool

type tokenFileJSON struct {
	Tokens []struct {
		SHA256 string   `json:"sha256"`
		Stores []string `json:"stores"`
		Name   string   `json:"name"`
	} `json:"tokens"`
}

// LoadTokenFile reads path and returns a TokenFile serving its tokens.
func LoadTokenFile(path string) (*TokenFile, error) {
	t := &TokenFile{path: path}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload re-reads the file; on error the previous tokens stay in force.
func (t *TokenFile) Reload() error {
	raw, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("loading token file: %w", err)
	}
	table, err := parseTokenFile(raw)
	if err != nil {
		return fmt.Errorf("loading token file %s: %w", t.path, err)
	}
	t.table.Store(&table)
	return nil
}

func parseTokenFile(raw []byte) (tokenTable, error) {
	var f tokenFileJSON
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	table := tokenTable{}
	for i, tok := range f.Tokens {
		sum, err := hex.DecodeString(strings.ToLower(tok.SHA256))
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("tokens[%d].sha256 must be 64 hex characters", i)
		}
		if len(tok.Stores) == 0 {
			return nil, fmt.Errorf("tokens[%d].stores must name at least one store", i)
		}
		key := [sha256.Size]byte(sum)
		if table[key] == nil {
			table[key] = map[string]bool{}
		}
		for _, s := range tok.Stores {
			if !contract.IsValidID(s) {
				return nil, fmt.Errorf("tokens[%d].stores: %q is not a valid store id", i, s)
			}
			table[key][s] = true
		}
	}
	return table, nil
}

// Authorize implements Authorizer.
func (t *TokenFile) Authorize(token, store string) error {
	if token == "" {
		return ErrUnauthenticated
	}
	stores, ok := (*t.table.Load())[sha256.Sum256([]byte(token))]
	if !ok {
		return ErrUnauthenticated
	}
	if !stores[store] {
		return ErrForbidden
	}
	return nil
}

// HashToken returns the SHA-256 hex digest to put in a token file.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
