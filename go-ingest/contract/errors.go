package contract

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalid is matched (errors.Is) by every error that reports a value
	// breaking the contract: wrong type, out of bounds, missing field.
	ErrInvalid = errors.New("invalid value")
	// ErrUnknownType is matched by errors for an event whose "type" tag names
	// no known event type. It also matches ErrInvalid.
	ErrUnknownType = errors.New("unknown event type")
	// ErrMalformed is matched by errors for input that is not well-formed
	// MessagePack or JSON at all. It also matches ErrInvalid.
	ErrMalformed = errors.New("malformed message")
)

// FieldError reports a message or config that does not satisfy the contract.
// Path is a JSON path such as `$.tracks[3].x1` (or `$` for the whole message);
// Value is the offending value when HasValue is set. Error renders the same
// shape as Python's SchemaError, so the text can go unchanged into a DLQ
// reason header.
type FieldError struct {
	Reason   string
	Path     string
	Value    any
	HasValue bool
	kind     error
}

// Error returns "<reason> - at `<path>`[, got <value>]".
func (e *FieldError) Error() string {
	if e.HasValue {
		return fmt.Sprintf("%s - at `%s`, got %s", e.Reason, e.Path, shortRepr(e.Value))
	}
	return fmt.Sprintf("%s - at `%s`", e.Reason, e.Path)
}

// Is reports whether target is ErrInvalid or the error's own sentinel.
func (e *FieldError) Is(target error) bool {
	return target == ErrInvalid || (e.kind != nil && target == e.kind)
}

// WithPrefix returns a copy of e whose path is rebased under prefix: a path
// `$.x` under prefix `$.events[2]` becomes `$.events[2].x`.
func (e *FieldError) WithPrefix(prefix string) *FieldError {
	c := *e
	c.Path = prefix + e.Path[1:]
	return &c
}

func newFieldError(path, reason string) *FieldError {
	return &FieldError{Reason: reason, Path: path}
}

func valueError(path, reason string, v any) *FieldError {
	return &FieldError{Reason: reason, Path: path, Value: v, HasValue: true}
}

func shortRepr(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = fmt.Sprintf("%q", x)
	case nil:
		s = "null"
	default:
		s = fmt.Sprintf("%v", x)
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// NewFieldError returns a *FieldError at path; value is reported when
// hasValue is set. kind, when non-nil, is an extra sentinel the error matches
// (errors.Is) besides ErrInvalid.
func NewFieldError(path, reason string, value any, hasValue bool, kind error) *FieldError {
	return &FieldError{Reason: reason, Path: path, Value: value, HasValue: hasValue, kind: kind}
}
