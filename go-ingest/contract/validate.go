package contract

import (
	"math"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones of layouts are checked the same on every host
	"unicode/utf8"
)

// Bounds from schemas/ids.py and schemas/events.py.
const (
	maxMetres      = 1e5
	maxBigFloat    = 1e12
	maxAmountMinor = 1 << 62
	maxLabelRunes  = 64
	maxEventIDLen  = 200
	maxImagePx     = 65535
	// maxPolygonPoints is schemas/layout.py's max_length on Zone.polygon. It
	// also bounds the O(n²) simple-polygon check: without it one zone in a
	// 16 MB body could hold ~900k points and take hours to validate.
	maxPolygonPoints = 1000
	// maxActiveHours is schemas/layout.py's max_length on AlertRule.active_hours.
	maxActiveHours = 48
	maxTimeZoneLen = 64
)

// IsValidID reports whether s matches ^[a-z0-9][a-z0-9_-]{0,31}$ (store,
// camera, zone, line and rule ids: NATS subject tokens and safe SQL literals).
func IsValidID(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			continue
		}
		if i > 0 && (c == '_' || c == '-') {
			continue
		}
		return false
	}
	return true
}

// isValidVersion reports whether s matches ^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$.
func isValidVersion(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			continue
		}
		if i > 0 && (c == '.' || c == '_' || c == '+' || c == '-') {
			continue
		}
		return false
	}
	return true
}

func isCurrency(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}

// checker accumulates the first validation error; checks after it are no-ops.
type checker struct {
	err *FieldError
}

func (c *checker) fail(p, reason string, v any) {
	if c.err == nil {
		c.err = valueError(p, reason, v)
	}
}

func (c *checker) result() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

func (c *checker) id(p, s string) {
	if c.err == nil && !IsValidID(s) {
		c.fail(p, "Expected `str` matching regex '^[a-z0-9][a-z0-9_-]{0,31}$'", s)
	}
}

func (c *checker) version(p, s string) {
	if c.err == nil && !isValidVersion(s) {
		c.fail(p, "Expected `str` matching regex '^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$'", s)
	}
}

func (c *checker) nonNeg(p string, v int64) {
	if c.err == nil && v < 0 {
		c.fail(p, "Expected `int` >= 0", v)
	}
}

func (c *checker) intRange(p string, v, lo, hi int64) {
	if c.err == nil && (v < lo || v > hi) {
		c.fail(p, "Expected `int` in ["+strconv.FormatInt(lo, 10)+", "+strconv.FormatInt(hi, 10)+"]", v)
	}
}

// floatRange fails NaN as well as out-of-range values.
func (c *checker) floatRange(p string, v, lo, hi float64) {
	if c.err == nil && !(v >= lo && v <= hi) {
		c.fail(p, "Expected `float` in ["+strconv.FormatFloat(lo, 'g', -1, 64)+", "+strconv.FormatFloat(hi, 'g', -1, 64)+"]", v)
	}
}

func (c *checker) unit(p string, v float64)    { c.floatRange(p, v, 0, 1) }
func (c *checker) metres(p string, v float64)  { c.floatRange(p, v, -maxMetres, maxMetres) }
func (c *checker) nonNegF(p string, v float64) { c.floatRange(p, v, 0, maxBigFloat) }
func (c *checker) finite(p string, v float64)  { c.floatRange(p, v, -maxBigFloat, maxBigFloat) }
func (c *checker) label(p string, s string) {
	if c.err == nil && utf8.RuneCountInString(s) > maxLabelRunes {
		c.fail(p, "Expected `str` of length <= 64", s)
	}
}

// name checks a metric or severity name: ^[a-z][a-z0-9_]{0,63}$ (schemas/layout.py _NAME_PATTERN).
func (c *checker) name(p, s string) {
	if c.err != nil {
		return
	}
	ok := len(s) >= 1 && len(s) <= 64 && s[0] >= 'a' && s[0] <= 'z'
	for i := 1; ok && i < len(s); i++ {
		ch := s[i]
		ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'
	}
	if !ok {
		c.fail(p, "Expected `str` matching regex '^[a-z][a-z0-9_]{0,63}$'", s)
	}
}

// clock checks a local time of day HH:MM, 00:00 to 23:59.
func (c *checker) clock(p, s string) {
	if c.err != nil {
		return
	}
	ok := len(s) == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' &&
		s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9' && (s[0] < '2' || s[1] <= '3')
	if !ok {
		c.fail(p, "Expected `str` matching regex '^([01][0-9]|2[0-3]):[0-5][0-9]$'", s)
	}
}

func (c *checker) oneOf(p, s string, options ...string) {
	if c.err != nil {
		return
	}
	for _, o := range options {
		if s == o {
			return
		}
	}
	c.fail(p, "Invalid enum value", s)
}

// Validate checks every contract rule of a TrackFrame and its tracks.
func (e *TrackFrame) Validate() error {
	var c checker
	c.id("$.store_id", e.StoreID)
	c.nonNeg("$.ts_ns", e.TsNs)
	c.id("$.camera_id", e.CameraID)
	c.id("$.edge_run_id", e.EdgeRunID)
	c.nonNeg("$.frame_seq", e.FrameSeq)
	for i := range e.Tracks {
		if c.err != nil {
			break
		}
		validateTrack(&c, &e.Tracks[i], i)
	}
	return c.result()
}

func validateTrack(c *checker, t *Track, i int) {
	at := func(name string) string { return "$.tracks[" + strconv.Itoa(i) + "]" + name }
	if t.TrackID < 0 {
		c.fail(at(".track_id"), "Expected `int` >= 0", t.TrackID)
	}
	if !(t.X1 >= 0 && t.X1 <= 1) {
		c.unit(at(".x1"), t.X1)
	}
	if !(t.Y1 >= 0 && t.Y1 <= 1) {
		c.unit(at(".y1"), t.Y1)
	}
	if !(t.X2 >= 0 && t.X2 <= 1) {
		c.unit(at(".x2"), t.X2)
	}
	if !(t.Y2 >= 0 && t.Y2 <= 1) {
		c.unit(at(".y2"), t.Y2)
	}
	if !(t.Score >= 0 && t.Score <= 1) {
		c.unit(at(".score"), t.Score)
	}
	if t.State != TrackStateTracked && t.State != TrackStateLost {
		c.fail(at(".state"), "Invalid enum value", string(t.State))
	}
	if t.FloorXM != nil {
		c.metres(at(".floor_x_m"), *t.FloorXM)
	}
	if t.FloorYM != nil {
		c.metres(at(".floor_y_m"), *t.FloorYM)
	}
	if c.err != nil {
		return
	}
	if t.X2 < t.X1 || t.Y2 < t.Y1 {
		c.err = newFieldError(at(""), "box must have x1 <= x2 and y1 <= y2, got ("+
			fmtF(t.X1)+", "+fmtF(t.Y1)+", "+fmtF(t.X2)+", "+fmtF(t.Y2)+")")
		return
	}
	if (t.FloorXM == nil) != (t.FloorYM == nil) {
		c.err = newFieldError(at(""), "floor_x_m and floor_y_m must both be set or both None")
	}
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Validate checks every contract rule of a TrackClosed.
func (e *TrackClosed) Validate() error {
	var c checker
	c.id("$.store_id", e.StoreID)
	c.nonNeg("$.ts_ns", e.TsNs)
	c.id("$.camera_id", e.CameraID)
	c.id("$.edge_run_id", e.EdgeRunID)
	c.nonNeg("$.track_id", e.TrackID)
	c.nonNeg("$.first_ts_ns", e.FirstTsNs)
	c.nonNeg("$.last_ts_ns", e.LastTsNs)
	return c.result()
}

// Validate checks every contract rule of an EdgeStatus.
func (e *EdgeStatus) Validate() error {
	var c checker
	c.id("$.store_id", e.StoreID)
	c.nonNeg("$.ts_ns", e.TsNs)
	c.id("$.camera_id", e.CameraID)
	c.id("$.edge_run_id", e.EdgeRunID)
	c.nonNeg("$.status_seq", e.StatusSeq)
	c.nonNegF("$.fps", e.Fps)
	c.nonNeg("$.frames_processed", e.FramesProcessed)
	c.nonNeg("$.frames_dropped", e.FramesDropped)
	c.nonNeg("$.buffer_purges", e.BufferPurges)
	c.nonNegF("$.buffer_max_age_s", e.BufferMaxAgeS)
	c.nonNeg("$.events_spooled", e.EventsSpooled)
	c.nonNeg("$.events_dropped", e.EventsDropped)
	c.version("$.detector", e.Detector)
	c.version("$.tracker", e.Tracker)
	return c.result()
}

// Validate checks every contract rule of a LayoutPublished, its layout included.
func (e *LayoutPublished) Validate() error {
	var c checker
	c.id("$.store_id", e.StoreID)
	c.nonNeg("$.ts_ns", e.TsNs)
	if e.Version < 1 {
		c.fail("$.version", "Expected `int` >= 1", e.Version)
	}
	c.nonNeg("$.effective_from_ns", e.EffectiveFromNs)
	validateLayout(&c, &e.Layout, "$.layout")
	return c.result()
}

func (d *TrackDerived) validate(c *checker) {
	c.id("$.store_id", d.StoreID)
	c.nonNeg("$.ts_ns", d.TsNs)
	c.id("$.camera_id", d.CameraID)
	c.id("$.edge_run_id", d.EdgeRunID)
	c.nonNeg("$.track_id", d.TrackID)
	c.nonNeg("$.layout_version", d.LayoutVersion)
	c.version("$.processor_version", d.ProcessorVersion)
	if n := utf8.RuneCountInString(d.SourceEventID); c.err == nil && (n < 1 || n > maxEventIDLen) {
		c.fail("$.source_event_id", "Expected `str` of length in [1, 200]", d.SourceEventID)
	}
}

// Validate checks every contract rule of a ZoneEntered.
func (e *ZoneEntered) Validate() error {
	var c checker
	e.validate(&c)
	c.id("$.zone_id", e.ZoneID)
	return c.result()
}

// Validate checks every contract rule of a ZoneExited.
func (e *ZoneExited) Validate() error {
	var c checker
	e.validate(&c)
	c.id("$.zone_id", e.ZoneID)
	c.nonNeg("$.entered_ts_ns", e.EnteredTsNs)
	return c.result()
}

// Validate checks every contract rule of a LineCrossed.
func (e *LineCrossed) Validate() error {
	var c checker
	e.validate(&c)
	c.id("$.line_id", e.LineID)
	c.oneOf("$.direction", e.Direction, "in", "out")
	return c.result()
}

// Validate checks every contract rule of a VisitEnded.
func (e *VisitEnded) Validate() error {
	var c checker
	e.validate(&c)
	c.nonNeg("$.started_ts_ns", e.StartedTsNs)
	if e.GroupID != nil {
		c.id("$.group_id", *e.GroupID)
	}
	return c.result()
}

// Validate checks every contract rule of a QueueSampled.
func (e *QueueSampled) Validate() error {
	var c checker
	c.id("$.store_id", e.StoreID)
	c.nonNeg("$.ts_ns", e.TsNs)
	c.id("$.zone_id", e.ZoneID)
	c.nonNeg("$.queue_length", e.QueueLength)
	c.nonNegF("$.est_wait_s", e.EstWaitS)
	c.nonNeg("$.layout_version", e.LayoutVersion)
	c.version("$.processor_version", e.ProcessorVersion)
	return c.result()
}

// Validate checks every contract rule of an OccupancySampled.
func (e *OccupancySampled) Validate() error {
	var c checker
	c.id("$.store_id", e.StoreID)
	c.nonNeg("$.ts_ns", e.TsNs)
	if e.ZoneID != nil {
		c.id("$.zone_id", *e.ZoneID)
	}
	c.nonNeg("$.people", e.People)
	c.nonNeg("$.layout_version", e.LayoutVersion)
	c.version("$.processor_version", e.ProcessorVersion)
	return c.result()
}

func (a *Alert) validate() error {
	var c checker
	c.id("$.store_id", a.StoreID)
	c.nonNeg("$.ts_ns", a.TsNs)
	c.id("$.rule_id", a.RuleID)
	if a.ZoneID != nil {
		c.id("$.zone_id", *a.ZoneID)
	}
	c.finite("$.value", a.Value)
	c.finite("$.threshold", a.Threshold)
	c.version("$.processor_version", a.ProcessorVersion)
	return c.result()
}

// Validate checks every contract rule of an AlertRaised.
func (e *AlertRaised) Validate() error { return e.validate() }

// Validate checks every contract rule of an AlertCleared.
func (e *AlertCleared) Validate() error { return e.validate() }

// Validate checks every contract rule of a PosTransaction.
func (e *PosTransaction) Validate() error {
	var c checker
	c.id("$.store_id", e.StoreID)
	c.nonNeg("$.ts_ns", e.TsNs)
	c.id("$.terminal_id", e.TerminalID)
	c.id("$.transaction_id", e.TransactionID)
	c.nonNeg("$.item_count", e.ItemCount)
	c.intRange("$.amount_minor", e.AmountMinor, -maxAmountMinor, maxAmountMinor)
	if c.err == nil && !isCurrency(e.Currency) {
		c.fail("$.currency", "Expected `str` matching regex '^[A-Z]{3}$'", e.Currency)
	}
	return c.result()
}

// Validate checks every contract rule of a StoreLayout: field bounds,
// non-singular homographies, simple polygons, line lengths, unique ids and
// rules that name existing zones.
func (l *StoreLayout) Validate() error {
	var c checker
	validateLayout(&c, l, "$")
	return c.result()
}

func validateLayout(c *checker, l *StoreLayout, root string) {
	at := func(list string, i int, field string) string {
		return root + "." + list + "[" + strconv.Itoa(i) + "]" + field
	}
	for i := range l.Cameras {
		cam := &l.Cameras[i]
		c.id(at("cameras", i, ".camera_id"), cam.CameraID)
		for j, v := range cam.ImageToFloor {
			c.finite(at("cameras", i, ".image_to_floor["+strconv.Itoa(j)+"]"), v)
		}
		c.intRange(at("cameras", i, ".image_width_px"), cam.ImageWidthPx, 1, maxImagePx)
		c.intRange(at("cameras", i, ".image_height_px"), cam.ImageHeightPx, 1, maxImagePx)
		c.label(at("cameras", i, ".label"), cam.Label)
		if c.err == nil {
			if reason := singularReason(cam.ImageToFloor); reason != "" {
				c.err = newFieldError(at("cameras", i, ".image_to_floor"), reason)
			}
		}
	}
	for i := range l.Zones {
		z := &l.Zones[i]
		c.id(at("zones", i, ".zone_id"), z.ZoneID)
		c.oneOf(at("zones", i, ".kind"), string(z.Kind), "entrance", "product", "queue", "checkout", "staff")
		for j, pt := range z.Polygon {
			c.metres(at("zones", i, ".polygon["+strconv.Itoa(j)+"][0]"), pt[0])
			c.metres(at("zones", i, ".polygon["+strconv.Itoa(j)+"][1]"), pt[1])
		}
		if c.err == nil && len(z.Polygon) > maxPolygonPoints {
			c.err = newFieldError(at("zones", i, ".polygon"), "Expected `array` of length <= "+strconv.Itoa(maxPolygonPoints))
		}
		c.label(at("zones", i, ".label"), z.Label)
		if c.err == nil {
			if reason := polygonReason(z.Polygon); reason != "" {
				c.err = newFieldError(at("zones", i, ".polygon"), reason)
			}
		}
	}
	for i := range l.Lines {
		ln := &l.Lines[i]
		c.id(at("lines", i, ".line_id"), ln.LineID)
		c.metres(at("lines", i, ".a[0]"), ln.A[0])
		c.metres(at("lines", i, ".a[1]"), ln.A[1])
		c.metres(at("lines", i, ".b[0]"), ln.B[0])
		c.metres(at("lines", i, ".b[1]"), ln.B[1])
		c.oneOf(at("lines", i, ".inward"), ln.Inward, "left", "right")
		c.label(at("lines", i, ".label"), ln.Label)
		if c.err == nil && math.Hypot(ln.A[0]-ln.B[0], ln.A[1]-ln.B[1]) < 0.05 {
			c.err = newFieldError(at("lines", i, ""), "line end points must be at least 0.05 m apart")
		}
	}
	for i := range l.Rules {
		if c.err != nil {
			break
		}
		validateRuleFields(c, &l.Rules[i], root, i)
	}
	if c.err == nil && utf8.RuneCountInString(l.TimeZone) > maxTimeZoneLen {
		c.fail(root+".time_zone", "Expected `str` of length <= 64", l.TimeZone)
	}
	if c.err != nil {
		return
	}
	unique := func(list, kind string, n int, id func(int) string) map[string]bool {
		seen := make(map[string]bool, n)
		for i := 0; i < n && c.err == nil; i++ {
			v := id(i)
			if seen[v] {
				c.fail(at(list, i, "."+kind), kind+" must be unique within a layout", v)
			}
			seen[v] = true
		}
		return seen
	}
	unique("cameras", "camera_id", len(l.Cameras), func(i int) string { return l.Cameras[i].CameraID })
	unique("zones", "zone_id", len(l.Zones), func(i int) string { return l.Zones[i].ZoneID })
	unique("lines", "line_id", len(l.Lines), func(i int) string { return l.Lines[i].LineID })
	unique("rules", "rule_id", len(l.Rules), func(i int) string { return l.Rules[i].RuleID })
	if c.err != nil {
		return
	}
	if reason := timeZoneReason(l.TimeZone); reason != "" {
		c.err = newFieldError(root+".time_zone", reason)
		return
	}
	kinds := make(map[string]ZoneKind, len(l.Zones))
	names := make([]string, len(l.Zones))
	for i := range l.Zones {
		kinds[l.Zones[i].ZoneID] = l.Zones[i].Kind
		names[i] = l.Zones[i].ZoneID
	}
	for i := range l.Rules {
		if field, reason := ruleReason(&l.Rules[i], kinds, names); field != "" {
			c.err = newFieldError(at("rules", i, "."+field), rulePrefix(i, &l.Rules[i])+field+" "+reason)
			return
		}
	}
}

// rulePrefix is how schemas/layout.py names a rule in a reason: rules[2] (rule_id 'q-long'): .
func rulePrefix(i int, r *AlertRule) string {
	return "rules[" + strconv.Itoa(i) + "] (rule_id '" + r.RuleID + "'): "
}

// validateRuleFields checks one rule's own fields (bounds and formats); a
// fault's reason names the rule as Python's codec does.
func validateRuleFields(c *checker, r *AlertRule, root string, i int) {
	at := func(field string) string { return root + ".rules[" + strconv.Itoa(i) + "]" + field }
	c.id(at(".rule_id"), r.RuleID)
	if r.ZoneID != nil {
		c.id(at(".zone_id"), *r.ZoneID)
	}
	c.name(at(".metric"), r.Metric)
	c.nonNegF(at(".threshold"), r.Threshold)
	c.nonNegF(at(".min_duration_s"), r.MinDurationS)
	if r.ClearBelow != nil {
		c.nonNegF(at(".clear_below"), *r.ClearBelow)
	}
	c.nonNegF(at(".clear_after_s"), r.ClearAfterS)
	if c.err == nil && len(r.ActiveHours) > maxActiveHours {
		c.err = newFieldError(at(".active_hours"), "Expected `array` of length <= "+strconv.Itoa(maxActiveHours))
	}
	for j, w := range r.ActiveHours {
		wat := at(".active_hours[" + strconv.Itoa(j) + "]")
		c.clock(wat+".start", w.Start)
		c.clock(wat+".end", w.End)
		if c.err == nil && w.Start == w.End {
			c.err = newFieldError(wat, "window "+w.Start+"-"+w.End+" is empty (start equals end)")
		}
	}
	c.name(at(".severity"), r.Severity)
	if r.RadiusM != nil && c.err == nil && !(*r.RadiusM > 0 && *r.RadiusM <= maxMetres) {
		c.fail(at(".radius_m"), "Expected `float` in (0, 100000]", *r.RadiusM)
	}
	if c.err != nil && !strings.HasPrefix(c.err.Reason, "rules[") {
		// As Python's codec words it: rules[2] (rule_id 'x'): threshold: Expected ...
		field := strings.TrimPrefix(strings.TrimPrefix(c.err.Path, at("")), ".")
		if field != "" {
			field += ": "
		}
		c.err.Reason = rulePrefix(i, r) + field + c.err.Reason
	}
}

// ruleReason mirrors schemas/layout.py rule_reason: the first cross-field
// fault of a rule as (field, reason), or ("", ""). Metric-specific checks
// apply only to the metrics this version knows.
func ruleReason(r *AlertRule, kinds map[string]ZoneKind, zones []string) (string, string) {
	if r.ClearBelow != nil && *r.ClearBelow > r.Threshold {
		return "clear_below", pyFloat(*r.ClearBelow) + " must be <= threshold " + pyFloat(r.Threshold)
	}
	if r.ZoneID != nil {
		if _, ok := kinds[*r.ZoneID]; !ok {
			known := strings.Join(zones, ", ")
			if known == "" {
				known = "none"
			}
			return "zone_id", "'" + *r.ZoneID + "' is not a zone of this layout (zones: " + known + ")"
		}
	}
	if !contains(Metrics, r.Metric) {
		return "", ""
	}
	if r.ZoneID == nil {
		if !storeWideMetrics[r.Metric] {
			return "zone_id", "is required for metric '" + r.Metric + "' (only customers_per_staff, occupancy may cover the whole store)"
		}
	} else if want, ok := metricZoneKind[r.Metric]; ok && kinds[*r.ZoneID] != want {
		return "zone_id", "'" + *r.ZoneID + "' has kind " + string(kinds[*r.ZoneID]) + "; metric '" + r.Metric +
			"' needs a zone of kind " + string(want)
	}
	if radiusMetrics[r.Metric] && r.RadiusM == nil {
		return "radius_m", "is required for metric '" + r.Metric + "' (no staff within this many metres)"
	}
	if !radiusMetrics[r.Metric] && r.RadiusM != nil {
		return "radius_m", "applies only to unattended_dwell_s, not to metric '" + r.Metric + "'"
	}
	return "", ""
}

// ConfigFault reports a rule whose metric or severity this version does not
// know: refused in config input (a layout file, a layout submitted for
// publishing), kept in a layout read from the log. schemas/layout.py
// StoreLayout.config_fault; the path is under root ("$" or "$.layout").
func (l *StoreLayout) configFault(root string) *FieldError {
	for i := range l.Rules {
		r := &l.Rules[i]
		if !contains(Metrics, r.Metric) {
			return valueError(root+".rules["+strconv.Itoa(i)+"].metric", rulePrefix(i, r)+"metric '"+r.Metric+
				"' is not a known metric (metrics: "+strings.Join(Metrics, ", ")+")", r.Metric)
		}
		if !contains(Severities, r.Severity) {
			return valueError(root+".rules["+strconv.Itoa(i)+"].severity", rulePrefix(i, r)+"severity '"+r.Severity+
				"' is not one of "+strings.Join(Severities, ", "), r.Severity)
		}
	}
	return nil
}

// timeZoneReason mirrors schemas/layout.py check_time_zone.
func timeZoneReason(name string) string {
	bad := "time_zone '" + name + "' is not an IANA time zone name (e.g. 'UTC', 'Europe/Paris')"
	if name == "" || name == "Local" {
		return bad
	}
	if _, err := time.LoadLocation(name); err != nil {
		return bad
	}
	return ""
}

// pyFloat formats a float as Python's repr does for the values a rule holds (5.0, 0.25, 1e+20).
func pyFloat(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}

// singularReason mirrors CameraCalibration.__post_init__ (same expression order).
func singularReason(h [9]float64) string {
	det := h[0]*(h[4]*h[8]-h[5]*h[7]) - h[1]*(h[3]*h[8]-h[5]*h[6]) + h[2]*(h[3]*h[7]-h[4]*h[6])
	scale := 0.0
	for _, v := range h {
		scale = math.Max(scale, math.Abs(v))
	}
	if scale == 0 || math.Abs(det) <= 1e-12*math.Pow(scale, 3) {
		return "image_to_floor homography is singular (determinant " + fmtF(det) + ")"
	}
	return ""
}

// polygonReason mirrors layout._check_simple_polygon.
func polygonReason(pts []Point) string {
	n := len(pts)
	if n < 3 {
		return "polygon needs at least 3 points, got " + strconv.Itoa(n)
	}
	// Self-intersection first, as schemas/layout.py does: a bowtie has zero signed area too, and
	// "self-intersecting" is the fault to name.
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if j == i+1 || (i == 0 && j == n-1) {
				continue // neighbouring edges share a vertex
			}
			if segmentsIntersect(pts[i], pts[(i+1)%n], pts[j], pts[(j+1)%n]) {
				return "polygon is self-intersecting: edge " + strconv.Itoa(i) + " crosses edge " + strconv.Itoa(j)
			}
		}
	}
	twiceArea := 0.0
	for i := 0; i < n; i++ {
		j := (i + 1) % n
		twiceArea += pts[i][0]*pts[j][1] - pts[j][0]*pts[i][1]
	}
	if math.Abs(twiceArea) < 1e-9 {
		return "polygon has zero area"
	}
	return ""
}

func orient(a, b, c Point) float64 {
	return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
}

func onSegment(a, b, c Point) bool {
	return math.Min(a[0], b[0]) <= c[0] && c[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= c[1] && c[1] <= math.Max(a[1], b[1])
}

func segmentsIntersect(p1, p2, q1, q2 Point) bool {
	d1, d2 := orient(q1, q2, p1), orient(q1, q2, p2)
	d3, d4 := orient(p1, p2, q1), orient(p1, p2, q2)
	if ((d1 > 0 && 0 > d2) || (d1 < 0 && 0 < d2)) && ((d3 > 0 && 0 > d4) || (d3 < 0 && 0 < d4)) {
		return true
	}
	return (d1 == 0 && onSegment(q1, q2, p1)) || (d2 == 0 && onSegment(q1, q2, p2)) ||
		(d3 == 0 && onSegment(p1, p2, q1)) || (d4 == 0 && onSegment(p1, p2, q2))
}
