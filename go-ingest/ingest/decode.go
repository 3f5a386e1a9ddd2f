package ingest

import (
	"errors"
	"strings"

	"github.com/footfall/footfall/go-ingest/contract"
)

// Encoding is the wire format of a request body.
type Encoding int

// Encodings accepted by the events endpoint.
const (
	EncodingJSON Encoding = iota + 1
	EncodingMsgpack
)

var (
	// ErrUnsupportedMediaType is returned by ParseContentType for a
	// Content-Type that is neither JSON nor MessagePack.
	ErrUnsupportedMediaType = errors.New("unsupported content type")
	// ErrStoreMismatch is matched by the rejection of an event whose store_id
	// differs from the store in the URL.
	ErrStoreMismatch = errors.New("store_id does not match the URL")
)

// ParseContentType maps a Content-Type header to an Encoding; parameters
// such as charset are ignored.
func ParseContentType(header string) (Encoding, error) {
	mt, _, _ := strings.Cut(header, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case "application/json":
		return EncodingJSON, nil
	case "application/msgpack", "application/x-msgpack", "application/vnd.msgpack":
		return EncodingMsgpack, nil
	}
	return 0, ErrUnsupportedMediaType
}

// Item is one decoded event of a batch: exactly one of Event and Err is set.
// Err is a *contract.FieldError whose path is relative to the event.
type Item struct {
	Event contract.Event
	Err   error
}

// DecodeBatch parses a request body and decodes every event in it. A body
// that is not a batch returns a *contract.FieldError (matching
// contract.ErrMalformed or contract.ErrInvalid) naming the path in the body;
// otherwise each event gets its own Item, rejected events included, so one
// bad event never fails the others. An event for a store other than store is
// rejected with an error matching ErrStoreMismatch.
func DecodeBatch(enc Encoding, body []byte, store string) ([]Item, error) {
	var (
		root any
		err  error
	)
	switch enc {
	case EncodingJSON:
		root, err = contract.ReadJSON(body)
	case EncodingMsgpack:
		root, err = contract.ReadMsgpack(body)
	default:
		return nil, ErrUnsupportedMediaType
	}
	if err != nil {
		return nil, err
	}
	events, err := batchEvents(root)
	if err != nil {
		return nil, err
	}
	items := make([]Item, len(events))
	for i, v := range events {
		// Submitted for publishing: a layout with fields this writer does not know is refused, not
		// re-encoded without them.
		ev, err := contract.DecodeSubmittedValue(v)
		switch {
		case err != nil:
			items[i].Err = err
		case ev.Store() != store:
			items[i].Err = contract.NewFieldError("$.store_id",
				"store_id must equal the store in the URL ("+store+")", ev.Store(), true, ErrStoreMismatch)
		default:
			items[i].Event = ev
		}
	}
	return items, nil
}

func batchEvents(root any) ([]any, error) {
	switch x := root.(type) {
	case []any:
		return x, nil
	case map[string]any:
		v, ok := x["events"]
		if !ok {
			return nil, contract.NewFieldError("$.events", "Object missing required field `events`", nil, false, nil)
		}
		events, ok := v.([]any)
		if !ok {
			return nil, contract.NewFieldError("$.events", "Expected `array` of events", nil, false, nil)
		}
		return events, nil
	}
	return nil, contract.NewFieldError("$", "Expected a batch: an `array` of events or an `object` with `events`", nil, false, nil)
}
