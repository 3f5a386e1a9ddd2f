package contract

// DecodeValue converts and validates a generic value (see ReadMsgpack,
// ReadJSON) into an event. On error it returns a *FieldError naming the path.
func DecodeValue(v any) (Event, error) {
	ev, err := EventFromValue(v)
	if err != nil {
		return nil, err
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return ev, nil
}

// DecodeSubmittedValue is DecodeValue for an event this process is asked to
// write to the log (go-ingest's HTTP endpoint): a LayoutPublished's layout is
// then config input and an unknown field in it is refused, naming its path.
// This writer re-encodes events canonically from the Go types, so it could not
// keep fields it does not know; a newer layout goes through a newer writer.
// Unknown fields elsewhere are ignored, as in DecodeValue.
func DecodeSubmittedValue(v any) (Event, error) {
	ev, err := eventFrom(v, true)
	if err != nil {
		return nil, err
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	if lp, ok := ev.(*LayoutPublished); ok {
		// A rule with a metric or severity this version does not know is not published by it.
		if fe := lp.Layout.configFault("$.layout"); fe != nil {
			return nil, fe
		}
	}
	return ev, nil
}

// DecodeMsgpack decodes and validates one event from MessagePack. Unknown
// fields are ignored at every level (a LayoutPublished's layout included);
// every error is a *FieldError naming the path.
func DecodeMsgpack(data []byte) (Event, error) {
	v, err := ReadMsgpack(data)
	if err != nil {
		return nil, err
	}
	return DecodeValue(v)
}

// DecodeJSON decodes and validates one event from JSON. Unknown fields are
// ignored; every error is a *FieldError naming the path.
func DecodeJSON(data []byte) (Event, error) {
	v, err := ReadJSON(data)
	if err != nil {
		return nil, err
	}
	return DecodeValue(v)
}

func decodeLayoutValue(v any) (*StoreLayout, error) {
	l, err := LayoutFromValue(v)
	if err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if fe := l.configFault("$"); fe != nil {
		return nil, fe
	}
	return &l, nil
}

// DecodeLayoutMsgpack decodes and validates a store layout config from
// MessagePack (a config file): unknown fields are an error at every level.
func DecodeLayoutMsgpack(data []byte) (*StoreLayout, error) {
	v, err := ReadMsgpack(data)
	if err != nil {
		return nil, err
	}
	return decodeLayoutValue(v)
}

// DecodeLayoutJSON decodes and validates a store layout config from JSON (a
// config file): unknown fields are an error at every level, as in Python's
// schemas.codec.decode_layout_json.
func DecodeLayoutJSON(data []byte) (*StoreLayout, error) {
	v, err := ReadJSON(data)
	if err != nil {
		return nil, err
	}
	return decodeLayoutValue(v)
}
