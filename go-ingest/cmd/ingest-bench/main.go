// Command ingest-bench measures go-ingest end to end (HTTP in, JetStream
// acks out) at several batch sizes beside raw jetstream async publishing of
// the same payloads in the same run, and prints one JSON report on stdout.
//
//	ingest-bench [-nats-url URL [-create-streams]] [-batch-sizes 1,100,1000]
//	             [-events 200000] [-small-batch-events 20000] [-concurrency 8]
//	             [-window 4096] [-content-type application/msgpack] [-tracks 2]
//
// Without -nats-url it starts its own nats-server (JetStream, file store in a
// temp dir) in process and creates the streams.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/footfall/footfall/go-ingest/internal/bench"
)

func main() {
	o := bench.Defaults()
	sizes := flag.String("batch-sizes", "1,100,1000", "comma-separated events per request")
	flag.StringVar(&o.NATSURL, "nats-url", "", "NATS URL (default: start an in-process nats-server)")
	flag.BoolVar(&o.CreateStreams, "create-streams", false, "create the footfall streams on -nats-url")
	flag.IntVar(&o.Events, "events", o.Events, "events per measurement")
	flag.IntVar(&o.SmallBatchEvents, "small-batch-events", o.SmallBatchEvents, "events per measurement for batch sizes below 10")
	flag.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "concurrent HTTP clients")
	flag.IntVar(&o.Window, "window", o.Window, "async publish window (go-ingest and raw)")
	flag.StringVar(&o.ContentType, "content-type", o.ContentType, "application/msgpack or application/json")
	flag.IntVar(&o.Tracks, "tracks", o.Tracks, "tracks per track_frame event")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (server included) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingest-bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "ingest-bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	o.BatchSizes = nil
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "ingest-bench: bad batch size %q\n", s)
			os.Exit(2)
		}
		o.BatchSizes = append(o.BatchSizes, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	report, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest-bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(report); err != nil {
		os.Exit(1)
	}
}
