// Command go-ingest serves POST /v1/stores/{store}/events and publishes the
// events to the footfall JetStream log (see package ingest for the API).
//
//	go-ingest -token-file tokens.json [-nats-url nats://127.0.0.1:4222] [-nats-creds FILE]
//	          [-listen 127.0.0.1:8089] [-body-limit 16777216] [-publish-window 4096]
//	          [-publish-timeout 10s] [-retry-after 1s] [-shutdown-grace 30s]
//
// Every flag can also be set by environment (FOOTFALL_INGEST_<FLAG>, e.g.
// FOOTFALL_INGEST_NATS_URL). SIGHUP reloads the token file; SIGINT/SIGTERM
// stop accepting requests, wait for in-flight requests and their publishes,
// then drain the NATS connection. go-ingest never creates streams: run
// `footfall log init` first, or /readyz stays 503 and publishes fail with 503.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/footfall/footfall/go-ingest/ingest"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log, os.Args[1:]); err != nil {
		log.Error("go-ingest stopped", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, args []string) error {
	cfg, err := ingest.ParseConfig("go-ingest", args, ingest.LookupEnv)
	if err != nil {
		return err
	}
	tokens, err := ingest.LoadTokenFile(cfg.TokenFile)
	if err != nil {
		return err
	}
	opts := []nats.Option{
		nats.Name("footfall-go-ingest"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		// Fail publishes at once while disconnected instead of buffering
		// them: the client gets a 503 and retries with the same ids.
		nats.ReconnectBufSize(-1),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("NATS disconnected", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", ingest.RedactURL(nc.ConnectedUrl())) }),
	}
	if cfg.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	}
	nc, err := nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return fmt.Errorf("connecting to NATS %s: %w", redactAll(cfg.NATSURL), err)
	}
	metrics := ingest.NewMetrics()
	pub, err := ingest.NewPublisher(nc, ingest.PublisherConfig{Window: cfg.PublishWindow, AckTimeout: cfg.PublishTimeout}, metrics)
	if err != nil {
		return err
	}
	handler := ingest.NewHandler(ingest.ServerConfig{
		BodyLimit: cfg.BodyLimit, RetryAfter: cfg.RetryAfter, PublishTimeout: cfg.PublishTimeout,
	}, tokens, pub, metrics, log)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	log.Info("go-ingest listening", "addr", ln.Addr().String(), "nats", redactAll(cfg.NATSURL))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := tokens.Reload(); err != nil {
				log.Error("reloading tokens; keeping the previous ones", "err", err)
			} else {
				log.Info("reloaded tokens", "file", cfg.TokenFile)
			}
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests and publishes")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("shutting down HTTP", "err", err)
	}
	return pub.Close(shutdownCtx)
}

func redactAll(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		parts[i] = ingest.RedactURL(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}
