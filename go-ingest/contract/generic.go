package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// MaxDepth bounds the nesting of maps and arrays accepted by the generic
// readers; the deepest contract value (a layout polygon point inside an event)
// is five levels deep.
const MaxDepth = 32

// A generic value is one of: nil, bool, int64, uint64 (only above
// math.MaxInt64), float64, json.Number (JSON only), string, []any or
// map[string]any. Both readers produce this shape so that one converter
// (convert.go) applies the contract to JSON and MessagePack alike.

var decoderPool = sync.Pool{New: func() any { return &mpReader{d: msgpack.NewDecoder(nil)} }}

type mpReader struct {
	r bytes.Reader
	d *msgpack.Decoder
}

// ReadMsgpack parses one complete MessagePack value into a generic value.
// Trailing bytes, bin and ext values, non-string map keys, invalid UTF-8 and
// nesting deeper than MaxDepth are errors matching ErrMalformed.
func ReadMsgpack(data []byte) (any, error) {
	mr := decoderPool.Get().(*mpReader)
	defer decoderPool.Put(mr)
	mr.r.Reset(data)
	mr.d.Reset(&mr.r)
	v, err := mr.read(0)
	if err != nil {
		return nil, malformed("MessagePack", int(mr.r.Size())-mr.r.Len(), err)
	}
	if mr.r.Len() != 0 {
		return nil, malformed("MessagePack", int(mr.r.Size())-mr.r.Len(), errors.New("trailing bytes after the value"))
	}
	return v, nil
}

func malformed(format string, offset int, err error) *FieldError {
	return &FieldError{
		Reason: fmt.Sprintf("malformed %s at byte %d: %v", format, offset, err),
		Path:   "$",
		kind:   ErrMalformed,
	}
}

func capHint(n int) int {
	if n > 64 {
		return 64
	}
	return n
}

func (mr *mpReader) read(depth int) (any, error) {
	d := mr.d
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("nesting deeper than %d", MaxDepth)
		}
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, capHint(n))
		for i := 0; i < n; i++ {
			kc, err := d.PeekCode()
			if err != nil {
				return nil, err
			}
			if !msgpcode.IsFixedString(kc) && kc != msgpcode.Str8 && kc != msgpcode.Str16 && kc != msgpcode.Str32 {
				return nil, fmt.Errorf("map key must be a string, got code 0x%02x", kc)
			}
			k, err := d.DecodeString()
			if err != nil {
				return nil, err
			}
			if !utf8.ValidString(k) {
				return nil, errors.New("map key is not valid UTF-8")
			}
			v, err := mr.read(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("nesting deeper than %d", MaxDepth)
		}
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		a := make([]any, 0, capHint(n))
		for i := 0; i < n; i++ {
			v, err := mr.read(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case c == msgpcode.Nil:
		return nil, d.DecodeNil()
	case c == msgpcode.True || c == msgpcode.False:
		return d.DecodeBool()
	case c == msgpcode.Uint64:
		u, err := d.DecodeUint64()
		if err != nil {
			return nil, err
		}
		if u > math.MaxInt64 {
			return u, nil
		}
		return int64(u), nil
	case msgpcode.IsFixedNum(c) || c == msgpcode.Uint8 || c == msgpcode.Uint16 || c == msgpcode.Uint32 ||
		c == msgpcode.Int8 || c == msgpcode.Int16 || c == msgpcode.Int32 || c == msgpcode.Int64:
		return d.DecodeInt64()
	case c == msgpcode.Float || c == msgpcode.Double:
		return d.DecodeFloat64()
	case msgpcode.IsFixedString(c) || c == msgpcode.Str8 || c == msgpcode.Str16 || c == msgpcode.Str32:
		s, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		if !utf8.ValidString(s) {
			return nil, errors.New("string is not valid UTF-8")
		}
		return s, nil
	default:
		return nil, fmt.Errorf("unsupported MessagePack type code 0x%02x (bin and ext are not part of the contract)", c)
	}
}

// ReadJSON parses one complete JSON value into a generic value (numbers as
// json.Number). Trailing data, invalid UTF-8 and nesting deeper than MaxDepth
// are errors matching ErrMalformed.
func ReadJSON(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, malformed("JSON", 0, errors.New("input is not valid UTF-8"))
	}
	if err := checkJSONDepth(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, malformed("JSON", int(se.Offset), err)
		}
		return nil, malformed("JSON", int(dec.InputOffset()), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("JSON", int(dec.InputOffset()), errors.New("trailing data after the value"))
	}
	return v, nil
}

// checkJSONDepth rejects deeply nested JSON before encoding/json recurses.
func checkJSONDepth(data []byte) error {
	depth, inString, escaped := 0, false, false
	for i, b := range data {
		switch {
		case inString:
			if escaped {
				escaped = false
			} else if b == '\\' {
				escaped = true
			} else if b == '"' {
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
			if depth > MaxDepth {
				return malformed("JSON", i, fmt.Errorf("nesting deeper than %d", MaxDepth))
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	return nil
}
