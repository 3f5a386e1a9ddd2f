package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/footfall/footfall/go-ingest/contract"
)

// Outcome is what happened to one event of a batch.
type Outcome string

// Outcomes.
const (
	// OutcomeStored: JetStream acknowledged the event as a new message.
	OutcomeStored Outcome = "stored"
	// OutcomeDuplicate: JetStream already held a message with the event's id
	// (within the duplicate window); nothing new was written.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeRejected: the event breaks the contract; retrying it unchanged fails again.
	OutcomeRejected Outcome = "rejected"
	// OutcomeUnavailable: JetStream did not acknowledge the event; retry it.
	OutcomeUnavailable Outcome = "unavailable"
)

var (
	// ErrUnavailable is matched by Publish errors when JetStream did not
	// acknowledge every event (not connected, stream missing, timeout).
	ErrUnavailable = errors.New("jetstream unavailable")
	// ErrNotReady is matched by Ready errors.
	ErrNotReady = errors.New("jetstream not ready")
)

// Result is the outcome of one event. Stream and Seq are set for stored and
// duplicate events; Error for rejected and unavailable ones.
type Result struct {
	Index   int     `json:"index"`
	ID      string  `json:"id,omitempty"`
	Outcome Outcome `json:"outcome"`
	Stream  string  `json:"stream,omitempty"`
	Seq     uint64  `json:"seq,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// Publisher appends validated events to JetStream.
type Publisher interface {
	// Publish sends every event asynchronously (at most the configured window
	// unacknowledged at once) with Nats-Msg-Id = EventID and payload = its
	// canonical MessagePack, then waits for every ack. It fills results[i]
	// (Outcome, ID, Stream, Seq, Error) for events[i]. It returns an error
	// matching ErrUnavailable when any event was not acknowledged; events
	// acknowledged before that are stored, and republishing the same events
	// within the duplicate window stores each exactly once.
	Publish(ctx context.Context, events []contract.Event, results []*Result) error
	// Ready returns nil when the connection is up and every footfall stream
	// exists, else an error matching ErrNotReady.
	Ready(ctx context.Context) error
	// Close waits (until ctx ends) for outstanding publishes to be
	// acknowledged, then drains the connection.
	Close(ctx context.Context) error
}

// PublisherConfig configures NewPublisher.
type PublisherConfig struct {
	// Window is the most async publishes in flight on the connection.
	Window int
	// AckTimeout bounds the wait for one publish's ack.
	AckTimeout time.Duration
}

type jsPublisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	stall   jetstream.PublishOpt
	metrics *Metrics
}

// NewPublisher returns a Publisher on nc. metrics may be nil.
func NewPublisher(nc *nats.Conn, cfg PublisherConfig, metrics *Metrics) (Publisher, error) {
	if cfg.Window <= 0 {
		cfg.Window = 4096
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 5 * time.Second
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(cfg.Window),
		jetstream.WithPublishAsyncTimeout(cfg.AckTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("creating jetstream context: %w", err)
	}
	return &jsPublisher{nc: nc, js: js, stall: jetstream.WithStallWait(cfg.AckTimeout), metrics: metrics}, nil
}

// arenaBlock is the size of the byte blocks payloads are encoded into; one
// block holds a few hundred typical events, so a batch makes few allocations.
const arenaBlock = 64 << 10

func (p *jsPublisher) Publish(ctx context.Context, events []contract.Event, results []*Result) error {
	if len(events) == 0 {
		return nil
	}
	for i, ev := range events {
		results[i].ID = ev.EventID()
	}
	if p.nc.Status() != nats.CONNECTED {
		markUnavailable(results, "not connected to NATS")
		return fmt.Errorf("publishing batch: %w: connection %s", ErrUnavailable, p.nc.Status())
	}
	start := time.Now()
	futures := make([]jetstream.PubAckFuture, len(events))
	var arena []byte
	sent := 0
	var sendErr error
	for i, ev := range events {
		if cap(arena)-len(arena) < 4096 {
			arena = make([]byte, 0, arenaBlock)
		}
		var err error
		n := len(arena)
		arena, err = contract.AppendMsgpack(arena, ev)
		if err != nil {
			results[i].Outcome, results[i].Error = OutcomeRejected, err.Error()
			continue
		}
		msg := &nats.Msg{
			Subject: ev.Subject(),
			Data:    arena[n:len(arena):len(arena)],
			Header:  nats.Header{jetstream.MsgIDHeader: []string{results[i].ID}},
		}
		f, err := p.js.PublishMsgAsync(msg, p.stall)
		if err != nil {
			if errors.Is(err, nats.ErrMaxPayload) {
				results[i].Outcome, results[i].Error = OutcomeRejected, "encoded event exceeds the NATS max payload"
				continue
			}
			// Stop sending: the client retries the whole batch anyway.
			markUnavailable(results[i:], "publishing: "+err.Error())
			sendErr = err
			break
		}
		futures[i] = f
		sent++
	}
	if p.metrics != nil {
		p.metrics.InFlight.Add(float64(sent))
	}
	unavailable := sendErr != nil
	for i, f := range futures {
		if f == nil {
			continue
		}
		r := results[i]
		select {
		case ack := <-f.Ok():
			r.Stream, r.Seq = ack.Stream, ack.Sequence
			if ack.Duplicate {
				r.Outcome = OutcomeDuplicate
			} else {
				r.Outcome = OutcomeStored
			}
		case err := <-f.Err():
			r.Outcome, r.Error = OutcomeUnavailable, "publishing: "+describePublishError(err)
			unavailable = true
		case <-ctx.Done():
			r.Outcome, r.Error = OutcomeUnavailable, "publishing: "+ctx.Err().Error()
			unavailable = true
		}
	}
	if p.metrics != nil {
		p.metrics.InFlight.Sub(float64(sent))
		p.metrics.PublishLatency.Observe(time.Since(start).Seconds())
	}
	if unavailable {
		return fmt.Errorf("publishing batch: %w", ErrUnavailable)
	}
	return nil
}

func markUnavailable(results []*Result, reason string) {
	for _, r := range results {
		if r.Outcome == "" {
			r.Outcome, r.Error = OutcomeUnavailable, reason
		}
	}
}

func describePublishError(err error) string {
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return "no stream captures the subject (is the log provisioned? run `footfall log init`)"
	}
	return err.Error()
}

// Streams lists the streams go-ingest publishes to; readiness needs all.
func Streams() []string {
	out := make([]string, 0, len(contract.Channels))
	for _, c := range contract.Channels {
		out = append(out, contract.StreamOfChannel[c])
	}
	return out
}

func (p *jsPublisher) Ready(ctx context.Context) error {
	if st := p.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("%w: connection %s", ErrNotReady, st)
	}
	for _, name := range Streams() {
		if _, err := p.js.Stream(ctx, name); err != nil {
			return fmt.Errorf("%w: stream %s: %v", ErrNotReady, name, err)
		}
	}
	return nil
}

func (p *jsPublisher) Close(ctx context.Context) error {
	select {
	case <-p.js.PublishAsyncComplete():
	case <-ctx.Done():
	}
	if err := p.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("draining NATS connection: %w", err)
	}
	return nil
}
