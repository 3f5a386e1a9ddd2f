package contract

import (
	"strconv"
	"strings"
)

// Sample values mirroring schemas/samples.py: one fixed, valid instance of
// every contract type. They are the source of the Go-produced vectors in
// schemas/vectors/go/.
const (
	sampleStore     = "store-001"
	sampleCamera    = "cam-entrance"
	sampleRun       = "run-7f3a9c"
	sampleTs        = int64(1_767_225_600_000_000_000) // 2026-01-01T00:00:00Z
	sampleProcessor = "zones-1.0.0"
)

func ptr[T any](v T) *T { return &v }

// SampleLayout returns the small store of schemas/samples.py sample_layout.
func SampleLayout() StoreLayout {
	return StoreLayout{
		Cameras: []CameraCalibration{{
			CameraID:      sampleCamera,
			ImageToFloor:  [9]float64{12.0, 0.0, -1.0, 0.0, -9.0, 10.0, 0.0, 0.0, 1.0},
			ImageWidthPx:  768,
			ImageHeightPx: 576,
			Label:         "entrance, ceiling",
		}},
		Zones: []Zone{
			{ZoneID: "entrance", Kind: ZoneKindEntrance, Polygon: []Point{{0, 0}, {4, 0}, {4, 2}, {0, 2}}, Label: "Entrance"},
			{ZoneID: "produce", Kind: ZoneKindProduct, Polygon: []Point{{5, 2}, {9, 2}, {9, 6}, {5, 6}}, Label: "Fresh produce"},
			{ZoneID: "queue-1", Kind: ZoneKindQueue, Polygon: []Point{{0, 6}, {2, 6}, {2, 9.5}, {0, 9.5}}},
		},
		Lines: []CountingLine{{LineID: "door", A: Point{0, 1}, B: Point{4, 1}, Inward: "left", Label: "Main door"}},
		Rules: []AlertRule{
			{RuleID: "long-queue", ZoneID: ptr("queue-1"), Metric: "queue_length", Threshold: 5, MinDurationS: 60,
				Severity: "warning"},
			{RuleID: "slow-till", ZoneID: ptr("queue-1"), Metric: "wait_s", Threshold: 180, MinDurationS: 30,
				ClearBelow: ptr(120.0), ClearAfterS: 60, Severity: "critical"},
			{RuleID: "store-full", Metric: "occupancy", Threshold: 120, ClearBelow: ptr(100.0),
				ActiveHours: []TimeWindow{{"08:00", "12:30"}, {"22:00", "02:00"}}, Severity: "info"},
			{RuleID: "crowd-door", ZoneID: ptr("entrance"), Metric: "density_per_m2", Threshold: 1.5, Severity: "warning"},
			{RuleID: "help-produce", ZoneID: ptr("produce"), Metric: "unattended_dwell_s", Threshold: 90,
				ActiveHours: []TimeWindow{{"09:00", "21:00"}}, Severity: "warning", RadiusM: ptr(3.5)},
			{RuleID: "staff-gap", Metric: "customers_per_staff", Threshold: 15, MinDurationS: 300, Severity: "warning"},
		},
		TimeZone: "Europe/Paris",
	}
}

// SampleEvents returns one instance of every event type, in Tags order.
func SampleEvents() []Event {
	derived := func(ts int64) TrackDerived {
		return TrackDerived{
			StoreID: sampleStore, TsNs: ts, CameraID: sampleCamera, EdgeRunID: sampleRun, TrackID: 42,
			LayoutVersion: 3, ProcessorVersion: sampleProcessor, SourceEventID: sampleCamera + ":" + sampleRun + ":1200",
		}
	}
	return []Event{
		&TrackFrame{StoreID: sampleStore, TsNs: sampleTs, CameraID: sampleCamera, EdgeRunID: sampleRun, FrameSeq: 1200,
			Tracks: []Track{
				{TrackID: 42, X1: 0.125, Y1: 0.25, X2: 0.1875, Y2: 0.5, Score: 0.875, State: TrackStateTracked,
					FloorXM: ptr(1.5), FloorYM: ptr(0.75)},
				{TrackID: 43, X1: 0.5, Y1: 0.375, X2: 0.5625, Y2: 0.625, Score: 0.5, State: TrackStateLost},
			}},
		&TrackClosed{StoreID: sampleStore, TsNs: sampleTs + 5, CameraID: sampleCamera, EdgeRunID: sampleRun, TrackID: 42,
			FirstTsNs: sampleTs - 10_000_000_000, LastTsNs: sampleTs},
		&EdgeStatus{StoreID: sampleStore, TsNs: sampleTs, CameraID: sampleCamera, EdgeRunID: sampleRun, StatusSeq: 7,
			Fps: 10, FramesProcessed: 12000, FramesDropped: 3, BufferPurges: 20, BufferMaxAgeS: 60,
			EventsSpooled: 0, EventsDropped: 0, Detector: "mog2-1.0", Tracker: "bytetrack-nb-1.0"},
		&LayoutPublished{StoreID: sampleStore, TsNs: sampleTs, Version: 3, EffectiveFromNs: sampleTs - 3_600_000_000_000,
			Layout: SampleLayout()},
		&ZoneEntered{TrackDerived: derived(sampleTs), ZoneID: "produce"},
		&ZoneExited{TrackDerived: derived(sampleTs + 1), ZoneID: "produce", EnteredTsNs: sampleTs - 30_000_000_000},
		&LineCrossed{TrackDerived: derived(sampleTs), LineID: "door", Direction: "in"},
		&VisitEnded{TrackDerived: derived(sampleTs), StartedTsNs: sampleTs - 600_000_000_000, IsStaff: false, GroupID: ptr("g-12")},
		&QueueSampled{StoreID: sampleStore, TsNs: sampleTs, ZoneID: "queue-1", QueueLength: 4, EstWaitS: 95.5,
			LayoutVersion: 3, ProcessorVersion: sampleProcessor},
		&OccupancySampled{StoreID: sampleStore, TsNs: sampleTs, ZoneID: nil, People: 17, LayoutVersion: 3,
			ProcessorVersion: sampleProcessor},
		&AlertRaised{Alert{StoreID: sampleStore, TsNs: sampleTs, RuleID: "long-queue", ZoneID: ptr("queue-1"), Value: 6,
			Threshold: 5, ProcessorVersion: "alerts-1.0.0"}},
		&AlertCleared{Alert{StoreID: sampleStore, TsNs: sampleTs + 60, RuleID: "store-full", ZoneID: nil, Value: 95,
			Threshold: 120, ProcessorVersion: "alerts-1.0.0"}},
		&PosTransaction{StoreID: sampleStore, TsNs: sampleTs, TerminalID: "till-2", TransactionID: "t-000981",
			ItemCount: 3, AmountMinor: 1299, Currency: "EUR"},
	}
}

// EvolutionDir is the subdirectory of the vectors holding messages from a
// newer writer (fields unknown to this version), as schemas/export.py names it.
const EvolutionDir = "evolution"

// NewerLayoutFields are the fields a newer writer adds to the sample
// LayoutPublished, by dotted place ("" is the event itself), one per level of
// the layout: schemas/samples.py NEWER_LAYOUT_FIELDS, exactly.
func NewerLayoutFields() map[string]map[string]any {
	return map[string]map[string]any{
		"":                 {"future_origin": "layout-service-2"},
		"layout":           {"future_floors": []any{map[string]any{"level": int64(0), "name": "ground"}}},
		"layout.cameras.0": {"future_fov_deg": 90.0},
		"layout.zones.1":   {"future_capacity": int64(40)},
		"layout.lines.0":   {"future_height_m": 2.1},
		"layout.rules.0":   {"future_notify": map[string]any{"channel": "webhook", "after_s": int64(30)}},
	}
}

// SampleNewerLayoutPublished returns the sample LayoutPublished as a generic
// tree with NewerLayoutFields added: what a newer writer would send. Its known
// content decodes equal to the sample.
func SampleNewerLayoutPublished() (map[string]any, error) {
	var sample Event
	for _, e := range SampleEvents() {
		if e.Tag() == TagLayoutPublished {
			sample = e
		}
	}
	mp, err := MarshalMsgpack(sample)
	if err != nil {
		return nil, err
	}
	v, err := ReadMsgpack(mp)
	if err != nil {
		return nil, err
	}
	doc := v.(map[string]any)
	for place, extra := range NewerLayoutFields() {
		node := any(doc)
		if place != "" {
			for _, part := range strings.Split(place, ".") {
				switch n := node.(type) {
				case map[string]any:
					node = n[part]
				case []any:
					i, _ := strconv.Atoi(part)
					node = n[i]
				}
			}
		}
		for k, x := range extra {
			node.(map[string]any)[k] = x
		}
	}
	return doc, nil
}
