package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/footfall/footfall/go-ingest/contract"
	"github.com/footfall/footfall/go-ingest/internal/natstest"
)

const ts0 = int64(1_767_225_600_000_000_000)

func alert(store string, i int) contract.Event {
	zone := "checkout"
	a := contract.Alert{StoreID: store, TsNs: ts0 + int64(i)*1e9, RuleID: "checkout-queue", ZoneID: &zone,
		Value: 7 + float64(i), Threshold: 6, ProcessorVersion: "test-1"}
	if i%2 == 0 {
		return &contract.AlertRaised{Alert: a}
	}
	return &contract.AlertCleared{Alert: a}
}

// publish stores events on their subjects the way footfall does: MessagePack, Nats-Msg-Id = event id.
func publish(t *testing.T, js jetstream.JetStream, events ...contract.Event) {
	t.Helper()
	for _, ev := range events {
		data, err := contract.MarshalMsgpack(ev)
		if err != nil {
			t.Fatal(err)
		}
		msg := &nats.Msg{Subject: ev.Subject(), Data: data, Header: nats.Header{}}
		msg.Header.Set(nats.MsgIdHdr, ev.EventID())
		if _, err := js.PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
}

// syncBuffer is a bytes.Buffer safe to read while run writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

// ids decodes each printed line through the contract and returns the event ids.
func ids(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	for _, line := range lines {
		var probe map[string]any
		if err := json.Unmarshal([]byte(line), &probe); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		ev, err := contract.DecodeJSON([]byte(line))
		if err != nil {
			t.Fatalf("line does not decode as an event: %q: %v", line, err)
		}
		out = append(out, ev.EventID())
	}
	return out
}

func eventIDs(events []contract.Event) []string {
	var out []string
	for _, ev := range events {
		out = append(out, ev.EventID())
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTailPrintsAlertsAndResumes runs alerts-tail against a real nats-server:
// it prints the published alerts of its store as JSON lines, and a second run
// on the same durable prints only the alerts published since.
func TestTailPrintsAlertsAndResumes(t *testing.T) {
	srv := natstest.StartT(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if err := natstest.CreateStreams(context.Background(), js, contract.ChannelAlerts); err != nil {
		t.Fatal(err)
	}
	var first []contract.Event
	for i := range 5 {
		first = append(first, alert("store-1", i))
	}
	publish(t, js, first...)
	publish(t, js, alert("store-2", 0)) // another store's: filtered out
	cfg := config{Server: srv.ClientURL(), Store: "store-1", Durable: "labour"}

	// First run: live, stopped (as by SIGTERM) once it has printed what is there.
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, &out, &errOut) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(out.lines()) < len(first) || out.lines()[0] == "" {
		if time.Now().After(deadline) {
			t.Fatalf("printed %q in 10s", out.lines())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := ids(t, out.lines()); !equal(got, eventIDs(first)) {
		t.Fatalf("first run printed %v, want %v", got, eventIDs(first))
	}
	if !strings.Contains(out.lines()[0], `"type":"alert_raised"`) {
		t.Fatalf("line lacks its type tag: %s", out.lines()[0])
	}

	// Restart on the same durable: only what came since, none of the acked ones again.
	later := []contract.Event{alert("store-1", 5), alert("store-1", 6)}
	publish(t, js, later...)
	var again syncBuffer
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	if err := run(ctx2, config{Server: cfg.Server, Store: cfg.Store, Durable: cfg.Durable, Max: len(later)}, &again, &errOut); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, again.lines()); !equal(got, eventIDs(later)) {
		t.Fatalf("after restart printed %v, want %v", got, eventIDs(later))
	}

	// Nothing is left for the durable: the acks reached the server.
	c, err := js.Consumer(context.Background(), "FF_ALERTS", "labour")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		t.Fatalf("pending %d, ack pending %d after both runs", info.NumPending, info.NumAckPending)
	}
}

func TestBadStoreIsRefused(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), config{Server: "nats://127.0.0.1:1", Store: "Store 1", Durable: "x"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "-store") {
		t.Fatalf("got %v", err)
	}
}
