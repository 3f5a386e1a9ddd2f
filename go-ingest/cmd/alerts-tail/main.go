// Command alerts-tail reads footfall alerts (AlertRaised, AlertCleared) from
// the FF_ALERTS stream with a JetStream durable consumer, decodes each one
// through the Go contract and prints it as one JSON line on stdout:
//
//	{"type":"alert_raised","store_id":"store-1","ts_ns":...,"rule_id":"checkout-queue",...}
//
// It is the example of what a labour system needs to subscribe: a durable
// consumer on ff.v1.<store>.alerts. Each alert is acked (and the server's
// answer awaited) after its line is written, so a restarted alerts-tail with
// the same -durable resumes after the last alert it printed, without
// repeating it; a new durable starts at the oldest alert kept.
//
//	go run ./cmd/alerts-tail -server nats://127.0.0.1:4222 -store store-1 -durable labour-sync
//
// A message that does not decode as an alert (a newer writer's new event
// type, say) is reported on stderr and terminated (not delivered again).
// SIGINT or SIGTERM stop it after the alert in hand.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/footfall/footfall/go-ingest/contract"
)

// config holds the command's flags.
type config struct {
	Server  string // NATS URL
	Store   string // store id, or "*" for every store
	Durable string // durable consumer name: the position on the server
	Max     int    // stop after this many alerts (0: never)
}

func main() {
	var cfg config
	flag.StringVar(&cfg.Server, "server", nats.DefaultURL, "NATS server URL")
	flag.StringVar(&cfg.Store, "store", "*", "store id whose alerts to read (default: every store)")
	flag.StringVar(&cfg.Durable, "durable", "alerts-tail", "durable consumer name: where a restart resumes")
	flag.IntVar(&cfg.Max, "n", 0, "stop after n alerts (default: run until SIGINT or SIGTERM)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "alerts-tail:", err)
		os.Exit(1)
	}
}

// filterSubject is the subject a store's alerts are published on.
func filterSubject(store string) string {
	return "ff.v1." + store + "." + string(contract.ChannelAlerts)
}

// run reads alerts until ctx is done or cfg.Max alerts were printed.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	if cfg.Store != "*" && !contract.IsValidID(cfg.Store) {
		return fmt.Errorf("-store must be an id ([a-z0-9][a-z0-9_-]{0,31}) or *, got %q", cfg.Store)
	}
	nc, err := nats.Connect(cfg.Server, nats.Name("footfall-alerts-tail"))
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", cfg.Server, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream := contract.StreamOfChannel[contract.ChannelAlerts]
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		FilterSubject: filterSubject(cfg.Store),
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("durable %s on %s: %w", cfg.Durable, stream, err)
	}
	out := bufio.NewWriter(stdout)
	printed := 0
	for ctx.Err() == nil {
		want := 64
		if cfg.Max > 0 {
			want = min(want, cfg.Max-printed)
		}
		batch, err := cons.Fetch(want, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("fetching from %s: %w", cfg.Durable, err)
		}
		for msg := range batch.Messages() {
			if ctx.Err() != nil {
				_ = msg.Nak() // not printed: the next run gets it at once
				continue
			}
			if err := printAlert(ctx, msg, out, stderr); err != nil {
				return err
			}
			printed++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("fetching from %s: %w", cfg.Durable, err)
		}
		if cfg.Max > 0 && printed >= cfg.Max {
			return nil
		}
	}
	return nil
}

// printAlert writes one alert as a JSON line and acks it once the line is out.
func printAlert(ctx context.Context, msg jetstream.Msg, out *bufio.Writer, stderr io.Writer) error {
	ev, err := contract.DecodeMsgpack(msg.Data())
	if err == nil {
		switch ev.(type) {
		case *contract.AlertRaised, *contract.AlertCleared:
		default:
			err = fmt.Errorf("a %s, not an alert", ev.Tag())
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "alerts-tail: skipping %s: %v\n", msg.Subject(), err)
		return msg.Term()
	}
	line, err := contract.MarshalJSON(ev)
	if err != nil {
		return err
	}
	out.Write(line)
	out.WriteByte('\n')
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(ackCtx); err != nil {
		return fmt.Errorf("acking %s: %w", ev.EventID(), err)
	}
	return nil
}
