package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// mpWriter writes canonical MessagePack: maps with keys in the Python
// declaration order ("type" first), smallest int encodings, float64 floats,
// explicit nil for unset optional fields. The first error sticks.
type mpWriter struct {
	buf bytes.Buffer
	e   *msgpack.Encoder
	err error
}

var writerPool = sync.Pool{New: func() any {
	w := &mpWriter{}
	w.e = msgpack.NewEncoder(&w.buf)
	return w
}}

func (w *mpWriter) mapLen(n int) {
	if w.err == nil {
		w.err = w.e.EncodeMapLen(n)
	}
}

func (w *mpWriter) arrayLen(n int) {
	if w.err == nil {
		w.err = w.e.EncodeArrayLen(n)
	}
}

func (w *mpWriter) key(k string) { w.str(k) }

func (w *mpWriter) str(s string) {
	if w.err == nil {
		w.err = w.e.EncodeString(s)
	}
}

func (w *mpWriter) int(v int64) {
	if w.err == nil {
		w.err = w.e.EncodeInt(v)
	}
}

func (w *mpWriter) float(v float64) {
	if w.err == nil {
		w.err = w.e.EncodeFloat64(v)
	}
}

func (w *mpWriter) bool(v bool) {
	if w.err == nil {
		w.err = w.e.EncodeBool(v)
	}
}

func (w *mpWriter) nil() {
	if w.err == nil {
		w.err = w.e.EncodeNil()
	}
}

func (w *mpWriter) optFloat(v *float64) {
	if v == nil {
		w.nil()
	} else {
		w.float(*v)
	}
}

func (w *mpWriter) optStr(v *string) {
	if v == nil {
		w.nil()
	} else {
		w.str(*v)
	}
}

func (w *mpWriter) kstr(k, v string)       { w.key(k); w.str(v) }
func (w *mpWriter) kint(k string, v int64) { w.key(k); w.int(v) }
func (w *mpWriter) kfloat(k string, v float64) {
	w.key(k)
	w.float(v)
}

func (w *mpWriter) point(p Point) {
	w.arrayLen(2)
	w.float(p[0])
	w.float(p[1])
}

// AppendMsgpack appends the canonical MessagePack encoding of e to dst. The
// encoding is byte-identical to msgspec's for the same values. It does not
// validate e.
func AppendMsgpack(dst []byte, e Event) ([]byte, error) {
	out, err := appendEncoded(dst, e)
	if err != nil {
		return dst, fmt.Errorf("encoding %s: %w", e.Tag(), err)
	}
	return out, nil
}

// MarshalMsgpack returns the canonical MessagePack encoding of e (see AppendMsgpack).
func MarshalMsgpack(e Event) ([]byte, error) { return AppendMsgpack(nil, e) }

// MarshalLayoutMsgpack returns the canonical MessagePack encoding of a layout.
func MarshalLayoutMsgpack(l *StoreLayout) ([]byte, error) {
	out, err := appendEncoded(nil, l)
	if err != nil {
		return nil, fmt.Errorf("encoding store layout: %w", err)
	}
	return out, nil
}

// appendEncoded encodes v with a pooled writer and appends the bytes to dst.
func appendEncoded(dst []byte, v interface{ encodeMsgpack(*mpWriter) }) ([]byte, error) {
	w := writerPool.Get().(*mpWriter)
	defer writerPool.Put(w)
	w.buf.Reset()
	w.err = nil
	v.encodeMsgpack(w)
	if w.err != nil {
		return dst, w.err
	}
	return append(dst, w.buf.Bytes()...), nil
}

func (w *mpWriter) header(tag string, nFields int) {
	w.mapLen(nFields + 1)
	w.kstr("type", tag)
}

func (e *TrackFrame) encodeMsgpack(w *mpWriter) {
	w.header(TagTrackFrame, 6)
	w.kstr("store_id", e.StoreID)
	w.kint("ts_ns", e.TsNs)
	w.kstr("camera_id", e.CameraID)
	w.kstr("edge_run_id", e.EdgeRunID)
	w.kint("frame_seq", e.FrameSeq)
	w.key("tracks")
	w.arrayLen(len(e.Tracks))
	for i := range e.Tracks {
		t := &e.Tracks[i]
		w.mapLen(9)
		w.kint("track_id", t.TrackID)
		w.kfloat("x1", t.X1)
		w.kfloat("y1", t.Y1)
		w.kfloat("x2", t.X2)
		w.kfloat("y2", t.Y2)
		w.kfloat("score", t.Score)
		w.kstr("state", string(t.State))
		w.key("floor_x_m")
		w.optFloat(t.FloorXM)
		w.key("floor_y_m")
		w.optFloat(t.FloorYM)
	}
}

func (e *TrackClosed) encodeMsgpack(w *mpWriter) {
	w.header(TagTrackClosed, 7)
	w.kstr("store_id", e.StoreID)
	w.kint("ts_ns", e.TsNs)
	w.kstr("camera_id", e.CameraID)
	w.kstr("edge_run_id", e.EdgeRunID)
	w.kint("track_id", e.TrackID)
	w.kint("first_ts_ns", e.FirstTsNs)
	w.kint("last_ts_ns", e.LastTsNs)
}

func (e *EdgeStatus) encodeMsgpack(w *mpWriter) {
	w.header(TagEdgeStatus, 14)
	w.kstr("store_id", e.StoreID)
	w.kint("ts_ns", e.TsNs)
	w.kstr("camera_id", e.CameraID)
	w.kstr("edge_run_id", e.EdgeRunID)
	w.kint("status_seq", e.StatusSeq)
	w.kfloat("fps", e.Fps)
	w.kint("frames_processed", e.FramesProcessed)
	w.kint("frames_dropped", e.FramesDropped)
	w.kint("buffer_purges", e.BufferPurges)
	w.kfloat("buffer_max_age_s", e.BufferMaxAgeS)
	w.kint("events_spooled", e.EventsSpooled)
	w.kint("events_dropped", e.EventsDropped)
	w.kstr("detector", e.Detector)
	w.kstr("tracker", e.Tracker)
}

func (e *LayoutPublished) encodeMsgpack(w *mpWriter) {
	w.header(TagLayoutPublished, 5)
	w.kstr("store_id", e.StoreID)
	w.kint("ts_ns", e.TsNs)
	w.kint("version", e.Version)
	w.kint("effective_from_ns", e.EffectiveFromNs)
	w.key("layout")
	e.Layout.encodeMsgpack(w)
}

func (l *StoreLayout) encodeMsgpack(w *mpWriter) {
	w.mapLen(5)
	w.key("cameras")
	w.arrayLen(len(l.Cameras))
	for i := range l.Cameras {
		c := &l.Cameras[i]
		w.mapLen(5)
		w.kstr("camera_id", c.CameraID)
		w.key("image_to_floor")
		w.arrayLen(9)
		for _, v := range c.ImageToFloor {
			w.float(v)
		}
		w.kint("image_width_px", c.ImageWidthPx)
		w.kint("image_height_px", c.ImageHeightPx)
		w.kstr("label", c.Label)
	}
	w.key("zones")
	w.arrayLen(len(l.Zones))
	for i := range l.Zones {
		z := &l.Zones[i]
		w.mapLen(4)
		w.kstr("zone_id", z.ZoneID)
		w.kstr("kind", string(z.Kind))
		w.key("polygon")
		w.arrayLen(len(z.Polygon))
		for _, p := range z.Polygon {
			w.point(p)
		}
		w.kstr("label", z.Label)
	}
	w.key("lines")
	w.arrayLen(len(l.Lines))
	for i := range l.Lines {
		ln := &l.Lines[i]
		w.mapLen(5)
		w.kstr("line_id", ln.LineID)
		w.key("a")
		w.point(ln.A)
		w.key("b")
		w.point(ln.B)
		w.kstr("inward", ln.Inward)
		w.kstr("label", ln.Label)
	}
	w.key("rules")
	w.arrayLen(len(l.Rules))
	for i := range l.Rules {
		r := &l.Rules[i]
		w.mapLen(10)
		w.kstr("rule_id", r.RuleID)
		w.key("zone_id")
		w.optStr(r.ZoneID)
		w.kstr("metric", r.Metric)
		w.kfloat("threshold", r.Threshold)
		w.kfloat("min_duration_s", r.MinDurationS)
		w.key("clear_below")
		w.optFloat(r.ClearBelow)
		w.kfloat("clear_after_s", r.ClearAfterS)
		w.key("active_hours")
		w.arrayLen(len(r.ActiveHours))
		for _, win := range r.ActiveHours {
			w.mapLen(2)
			w.kstr("start", win.Start)
			w.kstr("end", win.End)
		}
		w.kstr("severity", r.Severity)
		w.key("radius_m")
		w.optFloat(r.RadiusM)
	}
	w.kstr("time_zone", l.TimeZone)
}

func (d *TrackDerived) encodeBase(w *mpWriter, tag string, extra int) {
	w.header(tag, 8+extra)
	w.kstr("store_id", d.StoreID)
	w.kint("ts_ns", d.TsNs)
	w.kstr("camera_id", d.CameraID)
	w.kstr("edge_run_id", d.EdgeRunID)
	w.kint("track_id", d.TrackID)
	w.kint("layout_version", d.LayoutVersion)
	w.kstr("processor_version", d.ProcessorVersion)
	w.kstr("source_event_id", d.SourceEventID)
}

func (e *ZoneEntered) encodeMsgpack(w *mpWriter) {
	e.encodeBase(w, TagZoneEntered, 1)
	w.kstr("zone_id", e.ZoneID)
}

func (e *ZoneExited) encodeMsgpack(w *mpWriter) {
	e.encodeBase(w, TagZoneExited, 2)
	w.kstr("zone_id", e.ZoneID)
	w.kint("entered_ts_ns", e.EnteredTsNs)
}

func (e *LineCrossed) encodeMsgpack(w *mpWriter) {
	e.encodeBase(w, TagLineCrossed, 2)
	w.kstr("line_id", e.LineID)
	w.kstr("direction", e.Direction)
}

func (e *VisitEnded) encodeMsgpack(w *mpWriter) {
	e.encodeBase(w, TagVisitEnded, 3)
	w.kint("started_ts_ns", e.StartedTsNs)
	w.key("is_staff")
	w.bool(e.IsStaff)
	w.key("group_id")
	w.optStr(e.GroupID)
}

func (e *QueueSampled) encodeMsgpack(w *mpWriter) {
	w.header(TagQueueSampled, 7)
	w.kstr("store_id", e.StoreID)
	w.kint("ts_ns", e.TsNs)
	w.kstr("zone_id", e.ZoneID)
	w.kint("queue_length", e.QueueLength)
	w.kfloat("est_wait_s", e.EstWaitS)
	w.kint("layout_version", e.LayoutVersion)
	w.kstr("processor_version", e.ProcessorVersion)
}

func (e *OccupancySampled) encodeMsgpack(w *mpWriter) {
	w.header(TagOccupancySampled, 6)
	w.kstr("store_id", e.StoreID)
	w.kint("ts_ns", e.TsNs)
	w.key("zone_id")
	w.optStr(e.ZoneID)
	w.kint("people", e.People)
	w.kint("layout_version", e.LayoutVersion)
	w.kstr("processor_version", e.ProcessorVersion)
}

func (a *Alert) encodeAlert(w *mpWriter, tag string) {
	w.header(tag, 7)
	w.kstr("store_id", a.StoreID)
	w.kint("ts_ns", a.TsNs)
	w.kstr("rule_id", a.RuleID)
	w.key("zone_id")
	w.optStr(a.ZoneID)
	w.kfloat("value", a.Value)
	w.kfloat("threshold", a.Threshold)
	w.kstr("processor_version", a.ProcessorVersion)
}

func (e *AlertRaised) encodeMsgpack(w *mpWriter)  { e.encodeAlert(w, TagAlertRaised) }
func (e *AlertCleared) encodeMsgpack(w *mpWriter) { e.encodeAlert(w, TagAlertCleared) }

func (e *PosTransaction) encodeMsgpack(w *mpWriter) {
	w.header(TagPosTransaction, 7)
	w.kstr("store_id", e.StoreID)
	w.kint("ts_ns", e.TsNs)
	w.kstr("terminal_id", e.TerminalID)
	w.kstr("transaction_id", e.TransactionID)
	w.kint("item_count", e.ItemCount)
	w.kint("amount_minor", e.AmountMinor)
	w.kstr("currency", e.Currency)
}

// MarshalJSON returns the JSON encoding of e with the "type" tag first and
// every field present (nil optionals as null, empty lists as []). Floats are
// written by encoding/json, so 12.0 becomes 12: the content equals msgspec's
// JSON, the bytes need not.
func MarshalJSON(e Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding %s as JSON: %w", e.Tag(), err)
	}
	return b, nil
}

// MarshalJSON writes the event with its "type" tag first.
func (e *TrackFrame) MarshalJSON() ([]byte, error) {
	type alias TrackFrame
	a := alias(*e)
	if a.Tracks == nil {
		a.Tracks = []Track{}
	}
	return json.Marshal(struct {
		Type string `json:"type"`
		alias
	}{TagTrackFrame, a})
}

// MarshalJSON writes the event with its "type" tag first.
func (e *TrackClosed) MarshalJSON() ([]byte, error) {
	type alias TrackClosed
	return json.Marshal(struct {
		Type string `json:"type"`
		*alias
	}{TagTrackClosed, (*alias)(e)})
}

// MarshalJSON writes the event with its "type" tag first.
func (e *EdgeStatus) MarshalJSON() ([]byte, error) {
	type alias EdgeStatus
	return json.Marshal(struct {
		Type string `json:"type"`
		*alias
	}{TagEdgeStatus, (*alias)(e)})
}

// MarshalJSON writes the event with its "type" tag first.
func (e *LayoutPublished) MarshalJSON() ([]byte, error) {
	type alias LayoutPublished
	return json.Marshal(struct {
		Type string `json:"type"`
		*alias
	}{TagLayoutPublished, (*alias)(e)})
}

// MarshalJSON writes the layout with every list present ([] when empty).
func (l StoreLayout) MarshalJSON() ([]byte, error) {
	type alias StoreLayout
	a := alias(l)
	if a.Cameras == nil {
		a.Cameras = []CameraCalibration{}
	}
	if a.Zones == nil {
		a.Zones = []Zone{}
	}
	if a.Lines == nil {
		a.Lines = []CountingLine{}
	}
	if a.Rules == nil {
		a.Rules = []AlertRule{}
	}
	return json.Marshal(a)
}

// MarshalJSON writes the rule with its active hours present ([] when empty).
func (r AlertRule) MarshalJSON() ([]byte, error) {
	type alias AlertRule
	a := alias(r)
	if a.ActiveHours == nil {
		a.ActiveHours = []TimeWindow{}
	}
	return json.Marshal(a)
}

// MarshalJSON writes the zone with its polygon present ([] when empty).
func (z Zone) MarshalJSON() ([]byte, error) {
	type alias Zone
	a := alias(z)
	if a.Polygon == nil {
		a.Polygon = []Point{}
	}
	return json.Marshal(a)
}

// MarshalJSON writes the event with its "type" tag first.
func (e *ZoneEntered) MarshalJSON() ([]byte, error) {
	type alias ZoneEntered
	return json.Marshal(struct {
		Type string `json:"type"`
		*alias
	}{TagZoneEntered, (*alias)(e)})
}

// MarshalJSON writes the event with its "type" tag first.
func (e *ZoneExited) MarshalJSON() ([]byte, error) {
	type alias ZoneExited
	return json.Marshal(struct {
		Type string `json:"type"`
		*alias
	}{TagZoneExited, (*alias)(e)})
}

// MarshalJSON writes the event with its "type" tag first.
func (e *LineCrossed) MarshalJSON() ([]byte, error) {
	type alias LineCrossed
	return json.Marshal(struct {
		Type string `json:"type"`
		*alias
	}{TagLineCrossed, (*alias)(e)})
}

// MarshalJSON writes the event with its "type" tag first.
func (e *VisitEnded) MarshalJSON() ([]byte, error) {
	type alias VisitEnded
	return json.Marshal(struct {
		Type string `json:"type"`
		*alias
	}{TagVisitEnded, (*alias)(e)})
}

// MarshalJSON writes the event with its "type" tag first.
func (e *QueueSampled) MarshalJSON() ([]byte, error) {
	type alias QueueSampled
	return json.Marshal(struct {
		Type string `json:"type"`
		*alias
	}{TagQueueSampled, (*alias)(e)})
}

// MarshalJSON writes the event with its "type" tag first.
func (e *OccupancySampled) MarshalJSON() ([]byte, error) {
	type alias OccupancySampled
	return json.Marshal(struct {
		Type string `json:"type"`
		*alias
	}{TagOccupancySampled, (*alias)(e)})
}

// MarshalJSON writes the event with its "type" tag first.
func (e *AlertRaised) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type string `json:"type"`
		*Alert
	}{TagAlertRaised, &e.Alert})
}

// MarshalJSON writes the event with its "type" tag first.
func (e *AlertCleared) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type string `json:"type"`
		*Alert
	}{TagAlertCleared, &e.Alert})
}

// MarshalJSON writes the event with its "type" tag first.
func (e *PosTransaction) MarshalJSON() ([]byte, error) {
	type alias PosTransaction
	return json.Marshal(struct {
		Type string `json:"type"`
		*alias
	}{TagPosTransaction, (*alias)(e)})
}
