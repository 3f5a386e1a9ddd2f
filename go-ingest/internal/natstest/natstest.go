// Package natstest starts an in-process nats-server with JetStream on a file
// store and provisions the footfall streams the way `footfall log init` does
// (DESIGN.md §3). It is for tests and benchmarks only: go-ingest itself never
// creates streams.
package natstest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/footfall/footfall/go-ingest/contract"
)

// DuplicateWindow is the streams' dedup window: longer than any client retry.
const DuplicateWindow = 2 * time.Minute

// Start runs a nats-server with JetStream storing files under storeDir,
// listening on 127.0.0.1:port (port -1 picks a free one). It returns once the
// server accepts connections.
func Start(storeDir string, port int) (*server.Server, error) {
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  storeDir,
		NoLog:     true,
		NoSigs:    true,
		// Large enough for the biggest batch a benchmark keeps in flight.
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  8 << 30,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("starting nats-server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("starting nats-server: not ready after 10s")
	}
	return s, nil
}

// TB is the part of testing.TB that StartT needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	TempDir() string
	Cleanup(func())
}

// StartT starts a server in a test's temp dir and shuts it down at cleanup.
func StartT(t TB) *server.Server {
	t.Helper()
	s, err := Start(t.TempDir(), -1)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// StreamConfig returns the DESIGN.md §3 config of a channel's stream: file
// storage, DenyDelete and DenyPurge, a 2-minute duplicate window, and the
// default MaxAge (tracks and status 30 days, layout forever, others 400 days).
func StreamConfig(c contract.Channel) jetstream.StreamConfig {
	maxAge := 400 * 24 * time.Hour
	switch c {
	case contract.ChannelTracks, contract.ChannelStatus:
		maxAge = 30 * 24 * time.Hour
	case contract.ChannelLayout:
		maxAge = 0
	}
	return jetstream.StreamConfig{
		Name:       contract.StreamOfChannel[c],
		Subjects:   c.StreamSubjects(),
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		DenyDelete: true,
		DenyPurge:  true,
		Duplicates: DuplicateWindow,
		MaxAge:     maxAge,
	}
}

// CreateStreams creates (or updates) the streams of the given channels, or of
// every channel when none is given.
func CreateStreams(ctx context.Context, js jetstream.JetStream, channels ...contract.Channel) error {
	if len(channels) == 0 {
		channels = contract.Channels
	}
	for _, c := range channels {
		if _, err := js.CreateOrUpdateStream(ctx, StreamConfig(c)); err != nil {
			return fmt.Errorf("creating stream %s: %w", contract.StreamOfChannel[c], err)
		}
	}
	return nil
}

// TempDir makes a temporary store directory for commands (not tests).
func TempDir() (string, error) { return os.MkdirTemp("", "footfall-nats-") }
