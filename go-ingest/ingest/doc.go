// Package ingest is the go-ingest HTTP service: third-party door counters,
// cameras and POS systems append events to the footfall log with the same
// contract and guarantees as the edge (DESIGN.md §2-4).
//
// POST /v1/stores/{store}/events takes a batch as JSON (application/json) or
// MessagePack (application/msgpack, application/x-msgpack,
// application/vnd.msgpack). A batch is either an object {"events": [...]}
// (other keys ignored) or a bare array [...] of events; both forms are
// accepted in both encodings. Each event is validated against the contract,
// must carry store_id == {store}, and is published to its subject with
// Nats-Msg-Id = its event id, as its canonical MessagePack encoding.
//
// The response is JSON: {"stored":n,"duplicate":n,"rejected":n,
// "unavailable":n,"results":[{"index":i,"id":...,"outcome":...,"error":...}]}
// with one result per input event, in order.
//
//   - 200: every event was stored, was a duplicate, or was rejected (the
//     reason names the field path relative to the event, e.g. `$.tracks[0].x1`).
//   - 400: the body is not a batch (malformed JSON/MessagePack, no events
//     array); the error names the path in the body.
//   - 401 no or unknown bearer token; 403 token not valid for {store}.
//   - 413 body over the configured limit; 415 unsupported Content-Type.
//   - 503 with Retry-After: JetStream could not take every valid event. The
//     results say which were stored; the client retries the whole batch
//     unchanged. Events already stored come back as "duplicate" because
//     JetStream drops a message whose Nats-Msg-Id it saw within the stream's
//     duplicate window (2 minutes or more), so a retry within that window
//     stores each event exactly once: that is what "nothing half-written"
//     means here.
package ingest
