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

// DecodeMsgpack decodes and validates one event from MessagePack. Unknown
// fields are ignored; every error is a *FieldError naming the path.
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
	return &l, nil
}

// DecodeLayoutMsgpack decodes and validates a store layout config from
// MessagePack; unknown fields are an error.
func DecodeLayoutMsgpack(data []byte) (*StoreLayout, error) {
	v, err := ReadMsgpack(data)
	if err != nil {
		return nil, err
	}
	return decodeLayoutValue(v)
}

// DecodeLayoutJSON decodes and validates a store layout config from JSON;
// unknown fields are an error.
func DecodeLayoutJSON(data []byte) (*StoreLayout, error) {
	v, err := ReadJSON(data)
	if err != nil {
		return nil, err
	}
	return decodeLayoutValue(v)
}
