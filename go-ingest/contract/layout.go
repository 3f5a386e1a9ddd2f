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

// AlertRule raises an alert when Metric in ZoneID stays above Threshold for
// MinDurationS seconds. Metric is "queue_length", "occupancy" or "wait_s".
type AlertRule struct {
	RuleID       string  `json:"rule_id"`
	ZoneID       string  `json:"zone_id"`
	Metric       string  `json:"metric"`
	Threshold    float64 `json:"threshold"`
	MinDurationS float64 `json:"min_duration_s"`
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
}
