package contract

import (
	"strconv"
)

// Wire tags: the value of the "type" field of each event type.
const (
	TagTrackFrame       = "track_frame"
	TagTrackClosed      = "track_closed"
	TagEdgeStatus       = "edge_status"
	TagLayoutPublished  = "layout_published"
	TagZoneEntered      = "zone_entered"
	TagZoneExited       = "zone_exited"
	TagLineCrossed      = "line_crossed"
	TagVisitEnded       = "visit_ended"
	TagQueueSampled     = "queue_sampled"
	TagOccupancySampled = "occupancy_sampled"
	TagAlertRaised      = "alert_raised"
	TagAlertCleared     = "alert_cleared"
	TagPosTransaction   = "pos_transaction"
)

// Tags lists every event tag in the order of schemas/events.py EVENT_TYPES.
var Tags = []string{
	TagTrackFrame, TagTrackClosed, TagEdgeStatus, TagLayoutPublished,
	TagZoneEntered, TagZoneExited, TagLineCrossed, TagVisitEnded,
	TagQueueSampled, TagOccupancySampled, TagAlertRaised, TagAlertCleared,
	TagPosTransaction,
}

// Event is any footfall event. Every implementation is a plain struct value
// defined in this package; Validate must succeed before an event is published.
type Event interface {
	// Tag returns the wire tag (the "type" field).
	Tag() string
	// EventID returns the deterministic identity sent as Nats-Msg-Id; it is
	// the same string the Python `event_id` property builds.
	EventID() string
	// Store returns the event's store_id.
	Store() string
	// Subject returns the NATS subject the event is published on.
	Subject() string
	// Validate checks every contract rule; the error is a *FieldError.
	Validate() error

	encodeMsgpack(w *mpWriter)
}

// TrackState is a track's state in the tracker that produced the frame.
type TrackState string

// Track states.
const (
	TrackStateTracked TrackState = "tracked"
	TrackStateLost    TrackState = "lost"
)

// Track is one live track in one frame. X1..Y2 are the box in normalised image
// coordinates (0..1, y down); FloorXM/FloorYM are the foot point in metres,
// both set when the camera is calibrated, both nil otherwise.
type Track struct {
	TrackID int64      `json:"track_id"`
	X1      float64    `json:"x1"`
	Y1      float64    `json:"y1"`
	X2      float64    `json:"x2"`
	Y2      float64    `json:"y2"`
	Score   float64    `json:"score"`
	State   TrackState `json:"state"`
	FloorXM *float64   `json:"floor_x_m"`
	FloorYM *float64   `json:"floor_y_m"`
}

// TrackFrame holds all live tracks of one analysed frame of one camera.
type TrackFrame struct {
	StoreID   string  `json:"store_id"`
	TsNs      int64   `json:"ts_ns"`
	CameraID  string  `json:"camera_id"`
	EdgeRunID string  `json:"edge_run_id"`
	FrameSeq  int64   `json:"frame_seq"`
	Tracks    []Track `json:"tracks"`
}

// TrackClosed reports that a track ended; TsNs is when it was closed.
type TrackClosed struct {
	StoreID   string `json:"store_id"`
	TsNs      int64  `json:"ts_ns"`
	CameraID  string `json:"camera_id"`
	EdgeRunID string `json:"edge_run_id"`
	TrackID   int64  `json:"track_id"`
	FirstTsNs int64  `json:"first_ts_ns"`
	LastTsNs  int64  `json:"last_ts_ns"`
}

// EdgeStatus is the periodic health and privacy attestation of one camera's
// edge process. BufferMaxAgeS is in seconds, Fps in frames per second.
type EdgeStatus struct {
	StoreID         string  `json:"store_id"`
	TsNs            int64   `json:"ts_ns"`
	CameraID        string  `json:"camera_id"`
	EdgeRunID       string  `json:"edge_run_id"`
	StatusSeq       int64   `json:"status_seq"`
	Fps             float64 `json:"fps"`
	FramesProcessed int64   `json:"frames_processed"`
	FramesDropped   int64   `json:"frames_dropped"`
	BufferPurges    int64   `json:"buffer_purges"`
	BufferMaxAgeS   float64 `json:"buffer_max_age_s"`
	EventsSpooled   int64   `json:"events_spooled"`
	EventsDropped   int64   `json:"events_dropped"`
	Detector        string  `json:"detector"`
	Tracker         string  `json:"tracker"`
}

// LayoutPublished is a new version of a store's layout, in force for events
// with ts_ns >= EffectiveFromNs.
type LayoutPublished struct {
	StoreID         string      `json:"store_id"`
	TsNs            int64       `json:"ts_ns"`
	Version         int64       `json:"version"`
	EffectiveFromNs int64       `json:"effective_from_ns"`
	Layout          StoreLayout `json:"layout"`
}

// TrackDerived holds the fields shared by events derived from one track's
// frames (schemas/events.py _TrackDerived), in wire order.
type TrackDerived struct {
	StoreID          string `json:"store_id"`
	TsNs             int64  `json:"ts_ns"`
	CameraID         string `json:"camera_id"`
	EdgeRunID        string `json:"edge_run_id"`
	TrackID          int64  `json:"track_id"`
	LayoutVersion    int64  `json:"layout_version"`
	ProcessorVersion string `json:"processor_version"`
	SourceEventID    string `json:"source_event_id"`
}

// ZoneEntered reports that a track entered a zone.
type ZoneEntered struct {
	TrackDerived
	ZoneID string `json:"zone_id"`
}

// ZoneExited reports that a track left a zone it entered at EnteredTsNs.
type ZoneExited struct {
	TrackDerived
	ZoneID      string `json:"zone_id"`
	EnteredTsNs int64  `json:"entered_ts_ns"`
}

// LineCrossed reports that a track crossed a counting line; Direction is
// "in" or "out".
type LineCrossed struct {
	TrackDerived
	LineID    string `json:"line_id"`
	Direction string `json:"direction"`
}

// VisitEnded reports that a visit ended; staff visits are flagged.
type VisitEnded struct {
	TrackDerived
	StartedTsNs int64   `json:"started_ts_ns"`
	IsStaff     bool    `json:"is_staff"`
	GroupID     *string `json:"group_id"`
}

// QueueSampled is the queue length (people) and estimated wait (seconds) of
// one queue zone at one sampling tick.
type QueueSampled struct {
	StoreID          string  `json:"store_id"`
	TsNs             int64   `json:"ts_ns"`
	ZoneID           string  `json:"zone_id"`
	QueueLength      int64   `json:"queue_length"`
	EstWaitS         float64 `json:"est_wait_s"`
	LayoutVersion    int64   `json:"layout_version"`
	ProcessorVersion string  `json:"processor_version"`
}

// OccupancySampled is the number of people in one zone, or in the whole store
// when ZoneID is nil, at one sampling tick. zone_id is required on the wire
// (it may be null, but it may not be missing).
type OccupancySampled struct {
	StoreID          string  `json:"store_id"`
	TsNs             int64   `json:"ts_ns"`
	ZoneID           *string `json:"zone_id"`
	People           int64   `json:"people"`
	LayoutVersion    int64   `json:"layout_version"`
	ProcessorVersion string  `json:"processor_version"`
}

// Alert holds the fields of AlertRaised and AlertCleared. ZoneID is nil for a
// whole-store rule; zone_id is required on the wire (it may be null, but it may
// not be missing), as in OccupancySampled.
type Alert struct {
	StoreID          string  `json:"store_id"`
	TsNs             int64   `json:"ts_ns"`
	RuleID           string  `json:"rule_id"`
	ZoneID           *string `json:"zone_id"`
	Value            float64 `json:"value"`
	Threshold        float64 `json:"threshold"`
	ProcessorVersion string  `json:"processor_version"`
}

// AlertRaised reports that a rule's metric stayed above its threshold long enough.
type AlertRaised struct{ Alert }

// AlertCleared reports that a raised alert's metric fell back to or below its threshold.
type AlertCleared struct{ Alert }

// PosTransaction is a point-of-sale transaction, counts only: no customer
// data. AmountMinor is the total in the currency's minor unit (cents).
type PosTransaction struct {
	StoreID       string `json:"store_id"`
	TsNs          int64  `json:"ts_ns"`
	TerminalID    string `json:"terminal_id"`
	TransactionID string `json:"transaction_id"`
	ItemCount     int64  `json:"item_count"`
	AmountMinor   int64  `json:"amount_minor"`
	Currency      string `json:"currency"`
}

func (*TrackFrame) Tag() string       { return TagTrackFrame }
func (*TrackClosed) Tag() string      { return TagTrackClosed }
func (*EdgeStatus) Tag() string       { return TagEdgeStatus }
func (*LayoutPublished) Tag() string  { return TagLayoutPublished }
func (*ZoneEntered) Tag() string      { return TagZoneEntered }
func (*ZoneExited) Tag() string       { return TagZoneExited }
func (*LineCrossed) Tag() string      { return TagLineCrossed }
func (*VisitEnded) Tag() string       { return TagVisitEnded }
func (*QueueSampled) Tag() string     { return TagQueueSampled }
func (*OccupancySampled) Tag() string { return TagOccupancySampled }
func (*AlertRaised) Tag() string      { return TagAlertRaised }
func (*AlertCleared) Tag() string     { return TagAlertCleared }
func (*PosTransaction) Tag() string   { return TagPosTransaction }

func (e *TrackFrame) Store() string       { return e.StoreID }
func (e *TrackClosed) Store() string      { return e.StoreID }
func (e *EdgeStatus) Store() string       { return e.StoreID }
func (e *LayoutPublished) Store() string  { return e.StoreID }
func (e *TrackDerived) Store() string     { return e.StoreID }
func (e *QueueSampled) Store() string     { return e.StoreID }
func (e *OccupancySampled) Store() string { return e.StoreID }
func (e *Alert) Store() string            { return e.StoreID }
func (e *PosTransaction) Store() string   { return e.StoreID }

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// EventID returns "{camera_id}:{edge_run_id}:{frame_seq}".
func (e *TrackFrame) EventID() string {
	return e.CameraID + ":" + e.EdgeRunID + ":" + itoa(e.FrameSeq)
}

// EventID returns "{camera_id}:{edge_run_id}:closed:{track_id}".
func (e *TrackClosed) EventID() string {
	return e.CameraID + ":" + e.EdgeRunID + ":closed:" + itoa(e.TrackID)
}

// EventID returns "{camera_id}:{edge_run_id}:status:{status_seq}".
func (e *EdgeStatus) EventID() string {
	return e.CameraID + ":" + e.EdgeRunID + ":status:" + itoa(e.StatusSeq)
}

// EventID returns "{store_id}:layout:{version}".
func (e *LayoutPublished) EventID() string {
	return e.StoreID + ":layout:" + itoa(e.Version)
}

func (e *TrackDerived) derivedID(kind, target string) string {
	id := e.SourceEventID + ":" + e.ProcessorVersion + ":" + kind + ":"
	if target != "" {
		id += target + ":"
	}
	return id + itoa(e.TrackID)
}

// EventID returns "{source_event_id}:{processor_version}:enter:{zone_id}:{track_id}".
func (e *ZoneEntered) EventID() string { return e.derivedID("enter", e.ZoneID) }

// EventID returns "{source_event_id}:{processor_version}:exit:{zone_id}:{track_id}".
func (e *ZoneExited) EventID() string { return e.derivedID("exit", e.ZoneID) }

// EventID returns "{source_event_id}:{processor_version}:line:{line_id}:{track_id}".
func (e *LineCrossed) EventID() string { return e.derivedID("line", e.LineID) }

// EventID returns "{source_event_id}:{processor_version}:visit:{track_id}".
func (e *VisitEnded) EventID() string { return e.derivedID("visit", "") }

// EventID returns "{store_id}:{processor_version}:queue:{zone_id}:{ts_ns}".
func (e *QueueSampled) EventID() string {
	return e.StoreID + ":" + e.ProcessorVersion + ":queue:" + e.ZoneID + ":" + itoa(e.TsNs)
}

// EventID returns "{store_id}:{processor_version}:occupancy:{zone_id or _store}:{ts_ns}".
// Like Python's `zone_id or '_store'`, an empty zone id also becomes "_store"
// (it cannot pass validation anyway).
func (e *OccupancySampled) EventID() string {
	zone := "_store"
	if e.ZoneID != nil && *e.ZoneID != "" {
		zone = *e.ZoneID
	}
	return e.StoreID + ":" + e.ProcessorVersion + ":occupancy:" + zone + ":" + itoa(e.TsNs)
}

// EventID returns "{store_id}:{processor_version}:raised:{rule_id}:{ts_ns}".
func (e *AlertRaised) EventID() string {
	return e.StoreID + ":" + e.ProcessorVersion + ":raised:" + e.RuleID + ":" + itoa(e.TsNs)
}

// EventID returns "{store_id}:{processor_version}:cleared:{rule_id}:{ts_ns}".
func (e *AlertCleared) EventID() string {
	return e.StoreID + ":" + e.ProcessorVersion + ":cleared:" + e.RuleID + ":" + itoa(e.TsNs)
}

// EventID returns "{store_id}:pos:{terminal_id}:{transaction_id}".
func (e *PosTransaction) EventID() string {
	return e.StoreID + ":pos:" + e.TerminalID + ":" + e.TransactionID
}
