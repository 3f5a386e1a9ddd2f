package contract

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// path is a JSON path built lazily: only a failing conversion renders it.
type path struct {
	parent *path
	key    string
	index  int
}

func (p *path) String() string {
	if p == nil {
		return "$"
	}
	var parts []*path
	for q := p; q != nil; q = q.parent {
		parts = append(parts, q)
	}
	var b strings.Builder
	b.WriteString("$")
	for i := len(parts) - 1; i >= 0; i-- {
		q := parts[i]
		if q.key != "" {
			b.WriteString(".")
			b.WriteString(q.key)
		} else {
			b.WriteString("[")
			b.WriteString(strconv.Itoa(q.index))
			b.WriteString("]")
		}
	}
	return b.String()
}

func (p *path) field(name string) *path { return &path{parent: p, key: name} }
func (p *path) elem(i int) *path        { return &path{parent: p, index: i} }

// typeName names a generic value's type the way msgspec does in its errors.
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64, uint64:
		return "int"
	case float64:
		return "float"
	case json.Number:
		if isJSONInt(x) {
			return "int"
		}
		return "float"
	case string:
		return "str"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return "unknown"
	}
}

func isJSONInt(n json.Number) bool {
	return !strings.ContainsAny(string(n), ".eE")
}

func expected(p *path, want string, v any) *FieldError {
	return newFieldError(p.String(), "Expected `"+want+"`, got `"+typeName(v)+"`")
}

func asString(v any, p *path) (string, *FieldError) {
	s, ok := v.(string)
	if !ok {
		return "", expected(p, "str", v)
	}
	return s, nil
}

func asInt(v any, p *path) (int64, *FieldError) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case uint64:
		return 0, valueError(p.String(), "Expected `int` <= 9223372036854775807 (int64)", x)
	case json.Number:
		if isJSONInt(x) {
			n, err := strconv.ParseInt(string(x), 10, 64)
			if err != nil {
				return 0, valueError(p.String(), "Expected `int` within int64", string(x))
			}
			return n, nil
		}
	}
	return 0, expected(p, "int", v)
}

func asFloat(v any, p *path) (float64, *FieldError) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) {
			return 0, valueError(p.String(), "Expected `float` within float64 range", string(x))
		}
		return f, nil
	}
	return 0, expected(p, "float", v)
}

func asBool(v any, p *path) (bool, *FieldError) {
	b, ok := v.(bool)
	if !ok {
		return false, expected(p, "bool", v)
	}
	return b, nil
}

func asArray(v any, p *path) ([]any, *FieldError) {
	a, ok := v.([]any)
	if !ok {
		return nil, expected(p, "array", v)
	}
	return a, nil
}

// fields reads the members of one object; the first error sticks and every
// later read is a no-op, so converters read straight through.
type fields struct {
	m      map[string]any
	p      *path
	err    *FieldError
	config bool
	known  []string
}

func newFields(v any, p *path, config bool, errp **FieldError) *fields {
	if *errp != nil {
		return &fields{err: *errp}
	}
	m, ok := v.(map[string]any)
	if !ok {
		*errp = expected(p, "object", v)
		return &fields{err: *errp}
	}
	return &fields{m: m, p: p, config: config}
}

func (f *fields) get(name string, required bool) (any, bool) {
	if f.err != nil {
		return nil, false
	}
	if f.config {
		f.known = append(f.known, name)
	}
	v, ok := f.m[name]
	if !ok && required {
		f.err = newFieldError(f.p.field(name).String(), "Object missing required field `"+name+"`")
	}
	return v, ok
}

func (f *fields) fail(e *FieldError) {
	if f.err == nil {
		f.err = e
	}
}

func (f *fields) str(name string) string { return f.strOr(name, "", true) }

func (f *fields) strOr(name, def string, required bool) string {
	v, ok := f.get(name, required)
	if !ok {
		return def
	}
	s, err := asString(v, f.p.field(name))
	f.fail(err)
	return s
}

func (f *fields) optStr(name string, required bool) *string {
	v, ok := f.get(name, required)
	if !ok || v == nil {
		return nil
	}
	s, err := asString(v, f.p.field(name))
	f.fail(err)
	return &s
}

func (f *fields) int(name string) int64 { return f.intOr(name, 0, true) }

func (f *fields) intOr(name string, def int64, required bool) int64 {
	v, ok := f.get(name, required)
	if !ok {
		return def
	}
	n, err := asInt(v, f.p.field(name))
	f.fail(err)
	return n
}

func (f *fields) float(name string) float64 { return f.floatOr(name, 0, true) }

func (f *fields) floatOr(name string, def float64, required bool) float64 {
	v, ok := f.get(name, required)
	if !ok {
		return def
	}
	x, err := asFloat(v, f.p.field(name))
	f.fail(err)
	return x
}

func (f *fields) optFloat(name string) *float64 {
	v, ok := f.get(name, false)
	if !ok || v == nil {
		return nil
	}
	x, err := asFloat(v, f.p.field(name))
	f.fail(err)
	return &x
}

func (f *fields) boolOr(name string, def bool) bool {
	v, ok := f.get(name, false)
	if !ok {
		return def
	}
	b, err := asBool(v, f.p.field(name))
	f.fail(err)
	return b
}

func (f *fields) array(name string, required bool) []any {
	v, ok := f.get(name, required)
	if !ok {
		return nil
	}
	a, err := asArray(v, f.p.field(name))
	f.fail(err)
	return a
}

func (f *fields) point(name string, required bool) Point {
	v, ok := f.get(name, required)
	if !ok {
		return Point{}
	}
	pt, err := asPoint(v, f.p.field(name))
	f.fail(err)
	return pt
}

func asPoint(v any, p *path) (Point, *FieldError) {
	a, err := asArray(v, p)
	if err != nil {
		return Point{}, err
	}
	if len(a) != 2 {
		return Point{}, newFieldError(p.String(), "Expected `array` of length 2, got "+strconv.Itoa(len(a)))
	}
	var pt Point
	for i := range pt {
		x, err := asFloat(a[i], p.elem(i))
		if err != nil {
			return Point{}, err
		}
		pt[i] = x
	}
	return pt, nil
}

// done checks for unknown fields in config objects and returns the first
// error; outside config (an event, a layout read from the log) unknown fields
// are ignored.
func (f *fields) done() *FieldError {
	if f.err != nil || !f.config || len(f.m) <= len(f.known) {
		return f.err
	}
	first, seen := "", false
	for k := range f.m {
		found := false
		for _, n := range f.known {
			if n == k {
				found = true
				break
			}
		}
		if !found && (!seen || k < first) { // the smallest: the same error every run
			first, seen = k, true
		}
	}
	if seen {
		f.err = valueError(f.p.field(first).String(), "Object contains unknown field `"+first+"`", f.m[first])
	}
	return f.err
}

// EventFromValue converts a generic value (from ReadMsgpack or ReadJSON) into
// a typed event, applying types and defaults but not bounds; call Validate
// (or use DecodeMsgpack/DecodeJSON) for the full contract. Unknown fields are
// ignored at every level, a LayoutPublished's layout included (DESIGN.md §2:
// a layout read from the log must survive newer writers).
func EventFromValue(v any) (Event, error) { return eventFrom(v, false) }

// eventFrom is EventFromValue; strictLayout treats a LayoutPublished's layout
// as config input (unknown fields refused), for writers (see
// DecodeSubmittedValue).
func eventFrom(v any, strictLayout bool) (Event, error) {
	var errp *FieldError
	f := newFields(v, nil, false, &errp)
	if f.err != nil {
		return nil, f.err
	}
	tv, ok := f.m["type"]
	if !ok {
		return nil, newFieldError("$.type", "Object missing required field `type`")
	}
	tag, ok := tv.(string)
	if !ok {
		e := expected(&path{key: "type"}, "str", tv)
		e.kind = ErrUnknownType
		return nil, e
	}
	var ev Event
	switch tag {
	case TagTrackFrame:
		ev = trackFrameFrom(f)
	case TagTrackClosed:
		ev = &TrackClosed{
			StoreID: f.str("store_id"), TsNs: f.int("ts_ns"), CameraID: f.str("camera_id"),
			EdgeRunID: f.str("edge_run_id"), TrackID: f.int("track_id"),
			FirstTsNs: f.int("first_ts_ns"), LastTsNs: f.int("last_ts_ns"),
		}
	case TagEdgeStatus:
		ev = &EdgeStatus{
			StoreID: f.str("store_id"), TsNs: f.int("ts_ns"), CameraID: f.str("camera_id"),
			EdgeRunID: f.str("edge_run_id"), StatusSeq: f.int("status_seq"), Fps: f.float("fps"),
			FramesProcessed: f.int("frames_processed"), FramesDropped: f.int("frames_dropped"),
			BufferPurges: f.int("buffer_purges"), BufferMaxAgeS: f.float("buffer_max_age_s"),
			EventsSpooled: f.int("events_spooled"), EventsDropped: f.int("events_dropped"),
			Detector: f.str("detector"), Tracker: f.str("tracker"),
		}
	case TagLayoutPublished:
		lp := &LayoutPublished{StoreID: f.str("store_id"), TsNs: f.int("ts_ns"), Version: f.int("version"),
			EffectiveFromNs: f.int("effective_from_ns")}
		if lv, ok := f.get("layout", true); ok {
			layout, err := layoutFrom(lv, f.p.field("layout"), strictLayout)
			f.fail(err)
			lp.Layout = layout
		}
		ev = lp
	case TagZoneEntered:
		ev = &ZoneEntered{TrackDerived: trackDerivedFrom(f), ZoneID: f.str("zone_id")}
	case TagZoneExited:
		ev = &ZoneExited{TrackDerived: trackDerivedFrom(f), ZoneID: f.str("zone_id"), EnteredTsNs: f.int("entered_ts_ns")}
	case TagLineCrossed:
		ev = &LineCrossed{TrackDerived: trackDerivedFrom(f), LineID: f.str("line_id"), Direction: f.str("direction")}
	case TagVisitEnded:
		ev = &VisitEnded{TrackDerived: trackDerivedFrom(f), StartedTsNs: f.int("started_ts_ns"),
			IsStaff: f.boolOr("is_staff", false), GroupID: f.optStr("group_id", false)}
	case TagQueueSampled:
		ev = &QueueSampled{
			StoreID: f.str("store_id"), TsNs: f.int("ts_ns"), ZoneID: f.str("zone_id"),
			QueueLength: f.int("queue_length"), EstWaitS: f.float("est_wait_s"),
			LayoutVersion: f.int("layout_version"), ProcessorVersion: f.str("processor_version"),
		}
	case TagOccupancySampled:
		ev = &OccupancySampled{
			StoreID: f.str("store_id"), TsNs: f.int("ts_ns"), ZoneID: f.optStr("zone_id", true),
			People: f.int("people"), LayoutVersion: f.int("layout_version"),
			ProcessorVersion: f.str("processor_version"),
		}
	case TagAlertRaised:
		ev = &AlertRaised{alertFrom(f)}
	case TagAlertCleared:
		ev = &AlertCleared{alertFrom(f)}
	case TagPosTransaction:
		ev = &PosTransaction{
			StoreID: f.str("store_id"), TsNs: f.int("ts_ns"), TerminalID: f.str("terminal_id"),
			TransactionID: f.str("transaction_id"), ItemCount: f.int("item_count"),
			AmountMinor: f.int("amount_minor"), Currency: f.str("currency"),
		}
	default:
		return nil, &FieldError{Reason: "unknown event type", Path: "$.type", Value: tag, HasValue: true, kind: ErrUnknownType}
	}
	if f.err != nil {
		return nil, f.err
	}
	return ev, nil
}

func trackFrameFrom(f *fields) *TrackFrame {
	e := &TrackFrame{StoreID: f.str("store_id"), TsNs: f.int("ts_ns"), CameraID: f.str("camera_id"),
		EdgeRunID: f.str("edge_run_id"), FrameSeq: f.int("frame_seq")}
	arr := f.array("tracks", false)
	if f.err != nil {
		return e
	}
	e.Tracks = make([]Track, len(arr))
	tp := f.p.field("tracks")
	for i, tv := range arr {
		var errp *FieldError
		t := newFields(tv, tp.elem(i), false, &errp)
		if t.err != nil {
			f.fail(t.err)
			return e
		}
		e.Tracks[i] = Track{
			TrackID: t.int("track_id"), X1: t.float("x1"), Y1: t.float("y1"), X2: t.float("x2"), Y2: t.float("y2"),
			Score: t.float("score"), State: TrackState(t.strOr("state", string(TrackStateTracked), false)),
			FloorXM: t.optFloat("floor_x_m"), FloorYM: t.optFloat("floor_y_m"),
		}
		if t.err != nil {
			f.fail(t.err)
			return e
		}
	}
	return e
}

func trackDerivedFrom(f *fields) TrackDerived {
	return TrackDerived{
		StoreID: f.str("store_id"), TsNs: f.int("ts_ns"), CameraID: f.str("camera_id"),
		EdgeRunID: f.str("edge_run_id"), TrackID: f.int("track_id"), LayoutVersion: f.int("layout_version"),
		ProcessorVersion: f.str("processor_version"), SourceEventID: f.str("source_event_id"),
	}
}

func alertFrom(f *fields) Alert {
	return Alert{
		StoreID: f.str("store_id"), TsNs: f.int("ts_ns"), RuleID: f.str("rule_id"), ZoneID: f.optStr("zone_id", true),
		Value: f.float("value"), Threshold: f.float("threshold"), ProcessorVersion: f.str("processor_version"),
	}
}

// LayoutFromValue converts a generic value (a layout config file) into a
// StoreLayout, applying types, defaults and the no-unknown-fields rule of
// config input (at every level) but not bounds.
func LayoutFromValue(v any) (StoreLayout, error) {
	l, err := layoutFrom(v, nil, true)
	if err != nil {
		return StoreLayout{}, err
	}
	return l, nil
}

// layoutFrom converts a layout; config refuses unknown fields (a config file),
// otherwise they are ignored (a layout inside an event read from the log).
func layoutFrom(v any, p *path, config bool) (StoreLayout, *FieldError) {
	var errp *FieldError
	f := newFields(v, p, config, &errp)
	if f.err != nil {
		return StoreLayout{}, f.err
	}
	var l StoreLayout
	cams := f.array("cameras", false)
	zones := f.array("zones", false)
	lines := f.array("lines", false)
	rules := f.array("rules", false)
	l.TimeZone = f.strOr("time_zone", "UTC", false)
	if err := f.done(); err != nil {
		return l, err
	}
	for i, cv := range cams {
		c := newFields(cv, f.p.field("cameras").elem(i), config, &errp)
		cam := CameraCalibration{CameraID: c.str("camera_id")}
		if hv, ok := c.get("image_to_floor", true); ok {
			h, err := asArray(hv, c.p.field("image_to_floor"))
			if err == nil && len(h) != 9 {
				err = newFieldError(c.p.field("image_to_floor").String(), "Expected `array` of length 9, got "+strconv.Itoa(len(h)))
			}
			for j := 0; err == nil && j < 9; j++ {
				cam.ImageToFloor[j], err = asFloat(h[j], c.p.field("image_to_floor").elem(j))
			}
			c.fail(err)
		}
		cam.ImageWidthPx = c.intOr("image_width_px", 1920, false)
		cam.ImageHeightPx = c.intOr("image_height_px", 1080, false)
		cam.Label = c.strOr("label", "", false)
		if err := c.done(); err != nil {
			return l, err
		}
		l.Cameras = append(l.Cameras, cam)
	}
	for i, zv := range zones {
		z := newFields(zv, f.p.field("zones").elem(i), config, &errp)
		zone := Zone{ZoneID: z.str("zone_id"), Kind: ZoneKind(z.str("kind"))}
		pts := z.array("polygon", true)
		if z.err == nil {
			zone.Polygon = make([]Point, len(pts))
			for j, pv := range pts {
				pt, err := asPoint(pv, z.p.field("polygon").elem(j))
				z.fail(err)
				zone.Polygon[j] = pt
			}
		}
		zone.Label = z.strOr("label", "", false)
		if err := z.done(); err != nil {
			return l, err
		}
		l.Zones = append(l.Zones, zone)
	}
	for i, lv := range lines {
		c := newFields(lv, f.p.field("lines").elem(i), config, &errp)
		line := CountingLine{LineID: c.str("line_id"), A: c.point("a", true), B: c.point("b", true),
			Inward: c.strOr("inward", "left", false), Label: c.strOr("label", "", false)}
		if err := c.done(); err != nil {
			return l, err
		}
		l.Lines = append(l.Lines, line)
	}
	for i, rv := range rules {
		c := newFields(rv, f.p.field("rules").elem(i), config, &errp)
		rule := AlertRule{RuleID: c.str("rule_id"), ZoneID: c.optStr("zone_id", false), Metric: c.str("metric"),
			Threshold: c.float("threshold"), MinDurationS: c.floatOr("min_duration_s", 0, false),
			ClearBelow: c.optFloat("clear_below"), ClearAfterS: c.floatOr("clear_after_s", 0, false)}
		windows := c.array("active_hours", false)
		rule.Severity = c.strOr("severity", "warning", false)
		rule.RadiusM = c.optFloat("radius_m")
		if err := c.done(); err != nil {
			return l, err
		}
		for j, wv := range windows {
			w := newFields(wv, c.p.field("active_hours").elem(j), config, &errp)
			window := TimeWindow{Start: w.str("start"), End: w.str("end")}
			if err := w.done(); err != nil {
				return l, err
			}
			rule.ActiveHours = append(rule.ActiveHours, window)
		}
		l.Rules = append(l.Rules, rule)
	}
	return l, nil
}
