// Package contract holds the Go side of the footfall wire contract: the event
// and store-layout types defined in Python in schemas/events.py and
// schemas/layout.py, their validation rules, the canonical MessagePack and JSON
// codecs, and the NATS subjects events are published on (schemas/subjects.py).
//
// Decoding follows msgspec's rules as used by the Python codec: MessagePack is
// map form with field names kept, the tag field is "type", enums are strings,
// optional fields are encoded explicitly as nil, integers use the smallest
// encoding and floats are always float64. Unknown fields are ignored in events,
// at every level of a LayoutPublished's layout too (a layout read from the log
// must survive newer writers), and forbidden in layout config files
// (DecodeLayoutJSON, DecodeLayoutMsgpack) and in a layout submitted for
// publishing (DecodeSubmittedValue). Every decoding or validation error is a
// *FieldError naming the JSON path of the offending field.
package contract
