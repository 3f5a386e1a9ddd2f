package contract

// ZoneKind is what a zone is for; staff zones exclude their tracks from
// customer metrics.
type ZoneKind string

// Zone kinds.
const (
	ZoneKindEntrance ZoneKind = "entrance"
	ZoneKindProduct  ZoneKind = "product"
	ZoneKindQueue    ZoneKind = "queue"
	ZoneKindCheckout ZoneKind = "checkout"
	ZoneKindStaff    ZoneKind = "staff"
)

// Point is a position on the store floor in metres: (x, y).
type Point [2]float64

// CameraCalibration is one camera's image-to-floor mapping. ImageToFloor is a
// 3x3 row-major homography from normalised image coordinates (u, v, 1) to
// homogeneous floor metres (X, Y, W).
type CameraCalibration struct {
	CameraID      string     `json:"camera_id"`
	ImageToFloor  [9]float64 `json:"image_to_floor"`
	ImageWidthPx  int64      `json:"image_width_px"`
	ImageHeightPx int64      `json:"image_height_px"`
	Label         string     `json:"label"`
}

// Zone is a floor region: a simple polygon in metres (at least 3 points,
// edges must not cross).
type Zone struct {
	ZoneID  string   `json:"zone_id"`
	Kind    ZoneKind `json:"kind"`
	Polygon []Point  `json:"polygon"`
	Label   string   `json:"label"`
}

// CountingLine is a directed counting line from A to B in floor metres;
// Inward ("left" or "right") names the side of a->b that is inside.
type CountingLine struct {
	LineID string `json:"line_id"`
	A      Point  `json:"a"`
	B      Point  `json:"b"`
	Inward string `json:"inward"`
	Label  string `json:"label"`
}

// Alert rule metrics, severities and zone requirements: schemas/layout.py
// METRICS, SEVERITIES, STORE_WIDE_METRICS, METRIC_ZONE_KIND, RADIUS_METRICS.
// On the wire Metric and Severity are plain strings: a rule read from the log
// with a metric or severity this version does not know (a newer writer's) is
// kept, not refused, and an alert processor skips it (AlertRule.IsKnown). A
// config file and a layout submitted for publishing refuse it.
var (
	Metrics          = []string{"queue_length", "wait_s", "occupancy", "density_per_m2", "unattended_dwell_s", "customers_per_staff"}
	Severities       = []string{"info", "warning", "critical"}
	storeWideMetrics = map[string]bool{"occupancy": true, "customers_per_staff": true}
	metricZoneKind   = map[string]ZoneKind{"queue_length": ZoneKindQueue, "wait_s": ZoneKindQueue, "unattended_dwell_s": ZoneKindProduct}
	radiusMetrics    = map[string]bool{"unattended_dwell_s": true}
)

// TimeWindow is a window of local time of day [Start, End), "HH:MM" in the
// store's time zone; End before Start wraps past midnight.
type TimeWindow struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// AlertRule raises an alert when Metric in ZoneID (nil: the whole store, for
// occupancy and customers_per_staff only) stays above Threshold for
// MinDurationS seconds, and clears it once the value has stayed below
// ClearBelow (nil: the threshold) for ClearAfterS seconds. ActiveHours
// (empty: always) are local time in the layout's TimeZone. RadiusM is required
// for unattended_dwell_s and refused for other metrics. See schemas/layout.py.
// ZoneID was a required string before store-wide rules: a reader older than
// this version refuses a layout with a store-wide rule.
type AlertRule struct {
	RuleID       string       `json:"rule_id"`
	ZoneID       *string      `json:"zone_id"`
	Metric       string       `json:"metric"`
	Threshold    float64      `json:"threshold"`
	MinDurationS float64      `json:"min_duration_s"`
	ClearBelow   *float64     `json:"clear_below"`
	ClearAfterS  float64      `json:"clear_after_s"`
	ActiveHours  []TimeWindow `json:"active_hours"`
	Severity     string       `json:"severity"`
	RadiusM      *float64     `json:"radius_m"`
}

// IsKnown reports whether this version knows the rule's metric and severity.
func (r *AlertRule) IsKnown() bool {
	return contains(Metrics, r.Metric) && contains(Severities, r.Severity)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// StoreLayout is everything a fold needs to know about a store's floor at one
// layout version. Unknown fields are ignored inside a LayoutPublished read
// from the log (DecodeMsgpack, DecodeJSON) and are an error in a config file
// (DecodeLayoutMsgpack, DecodeLayoutJSON) and in a layout submitted for
// publishing (DecodeSubmittedValue).
type StoreLayout struct {
	Cameras []CameraCalibration `json:"cameras"`
	Zones   []Zone              `json:"zones"`
	Lines   []CountingLine      `json:"lines"`
	Rules   []AlertRule         `json:"rules"`
	// TimeZone is the store's IANA time zone ("UTC" by default).
	TimeZone string `json:"time_zone"`
}
