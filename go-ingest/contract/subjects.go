package contract

// SubjectPrefix is the first two tokens of every footfall subject.
const SubjectPrefix = "ff.v1"

// Channel is the last token of a subject: what kind of events it carries.
type Channel string

// Channels (schemas/subjects.py Channel).
const (
	ChannelTracks Channel = "tracks"
	ChannelStatus Channel = "status"
	ChannelLayout Channel = "layout"
	ChannelZones  Channel = "zones"
	ChannelAlerts Channel = "alerts"
	ChannelPOS    Channel = "pos"
)

// StreamOfChannel maps each channel to the JetStream stream that captures it.
var StreamOfChannel = map[Channel]string{
	ChannelTracks: "FF_TRACKS",
	ChannelStatus: "FF_STATUS",
	ChannelLayout: "FF_LAYOUT",
	ChannelZones:  "FF_DERIVED",
	ChannelAlerts: "FF_ALERTS",
	ChannelPOS:    "FF_POS",
}

// Channels lists every channel in declaration order.
var Channels = []Channel{ChannelTracks, ChannelStatus, ChannelLayout, ChannelZones, ChannelAlerts, ChannelPOS}

// PerCamera reports whether subjects of the channel carry a camera token.
func (c Channel) PerCamera() bool { return c == ChannelTracks || c == ChannelStatus }

// StreamSubjects returns the subject filter a channel's stream captures for
// every store, e.g. "ff.v1.*.*.tracks".
func (c Channel) StreamSubjects() []string {
	if c.PerCamera() {
		return []string{SubjectPrefix + ".*.*." + string(c)}
	}
	return []string{SubjectPrefix + ".*." + string(c)}
}

func storeSubject(store string, c Channel) string {
	return SubjectPrefix + "." + store + "." + string(c)
}

func cameraSubject(store, camera string, c Channel) string {
	return SubjectPrefix + "." + store + "." + camera + "." + string(c)
}

// ChannelOf returns the channel an event is published on.
func ChannelOf(e Event) Channel {
	switch e.(type) {
	case *TrackFrame, *TrackClosed:
		return ChannelTracks
	case *EdgeStatus:
		return ChannelStatus
	case *LayoutPublished:
		return ChannelLayout
	case *AlertRaised, *AlertCleared:
		return ChannelAlerts
	case *PosTransaction:
		return ChannelPOS
	default:
		return ChannelZones
	}
}

func (e *TrackFrame) Subject() string  { return cameraSubject(e.StoreID, e.CameraID, ChannelTracks) }
func (e *TrackClosed) Subject() string { return cameraSubject(e.StoreID, e.CameraID, ChannelTracks) }
func (e *EdgeStatus) Subject() string  { return cameraSubject(e.StoreID, e.CameraID, ChannelStatus) }
func (e *LayoutPublished) Subject() string {
	return storeSubject(e.StoreID, ChannelLayout)
}
func (e *TrackDerived) Subject() string     { return storeSubject(e.StoreID, ChannelZones) }
func (e *QueueSampled) Subject() string     { return storeSubject(e.StoreID, ChannelZones) }
func (e *OccupancySampled) Subject() string { return storeSubject(e.StoreID, ChannelZones) }
func (e *Alert) Subject() string            { return storeSubject(e.StoreID, ChannelAlerts) }
func (e *PosTransaction) Subject() string   { return storeSubject(e.StoreID, ChannelPOS) }
