package ingest

import (
	"strings"

	"github.com/footfall/footfall/go-ingest/contract"
)

// SourceTags are the event types go-ingest takes from outside: what sensors,
// cameras, point-of-sale systems and operators observe or decide.
var SourceTags = []string{
	contract.TagTrackFrame, contract.TagTrackClosed, contract.TagEdgeStatus,
	contract.TagLayoutPublished, contract.TagPosTransaction,
}

// derivedError says why a derived event is refused, or is nil for a source event.
//
// Zone, line, visit, queue and occupancy events and alerts are the zone and
// alert processors' deterministic output from the log (DESIGN.md §2): a
// replay recomputes them with the same ids, so one posted from outside would
// be neither reproduced nor replaced by a replay, and a caller could forge a
// store's counts. The hub's `ingest` user may not publish them either
// (stream/topology.py INGEST_PERMISSIONS).
func derivedError(e contract.Event) error {
	switch contract.ChannelOf(e) {
	case contract.ChannelZones, contract.ChannelAlerts:
		return contract.NewFieldError("$.type", "derived events come from footfall's processors, which make them "+
			"from the log, and cannot be posted; go-ingest accepts "+strings.Join(SourceTags, ", "), e.Tag(), true, nil)
	}
	return nil
}
