// Package bench measures go-ingest end to end (HTTP in, JetStream acks out)
// beside raw jetstream async publishing of the same payloads from Go, in the
// same run and against the same server, so the ratio is meaningful on any
// machine. It backs cmd/ingest-bench and the package benchmarks.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/footfall/footfall/go-ingest/contract"
	"github.com/footfall/footfall/go-ingest/ingest"
	"github.com/footfall/footfall/go-ingest/internal/natstest"
)

// Options configures Run.
type Options struct {
	// NATSURL is the server to use; empty starts an in-process nats-server
	// with a file store in a temp dir and creates the streams.
	NATSURL string
	// CreateStreams creates the footfall streams on NATSURL (in-process: always).
	CreateStreams bool
	// BatchSizes are the events per HTTP request to measure.
	BatchSizes []int
	// Events is how many events each measurement publishes (per batch size).
	Events int
	// SmallBatchEvents caps Events for batches of fewer than 10 events,
	// where one request per event makes big counts slow.
	SmallBatchEvents int
	// Concurrency is the number of concurrent HTTP clients.
	Concurrency int
	// Window is the async publish window, for go-ingest and raw alike.
	Window int
	// ContentType of the request bodies: application/msgpack or application/json.
	ContentType string
	// Tracks is the number of tracks per track_frame event (payload size).
	Tracks int
}

// Result is one batch size's measurement.
type Result struct {
	BatchSize         int     `json:"batch_size"`
	Events            int     `json:"events"`
	Requests          int     `json:"requests"`
	HTTPSeconds       float64 `json:"http_seconds"`
	HTTPEventsPerSec  float64 `json:"http_events_per_s"`
	RawSeconds        float64 `json:"raw_seconds"`
	RawEventsPerSec   float64 `json:"raw_events_per_s"`
	RatioHTTPToRaw    float64 `json:"ratio_http_to_raw"`
	MeetsRatioTarget  bool    `json:"meets_ratio_target"`
	MeetsAbsTarget    bool    `json:"meets_200k_target"`
	HTTPBytesPerEvent int     `json:"http_bytes_per_event"`
}

// Report is what cmd/ingest-bench prints as JSON.
type Report struct {
	Benchmark    string   `json:"benchmark"`
	GoVersion    string   `json:"go_version"`
	GOMAXPROCS   int      `json:"gomaxprocs"`
	NumCPU       int      `json:"num_cpu"`
	NATS         string   `json:"nats"`
	ContentType  string   `json:"content_type"`
	EventType    string   `json:"event_type"`
	PayloadBytes int      `json:"payload_bytes"`
	Concurrency  int      `json:"concurrency"`
	Window       int      `json:"window"`
	Results      []Result `json:"results"`
	Targets      string   `json:"targets"`
}

// Defaults returns the options cmd/ingest-bench uses without flags.
func Defaults() Options {
	return Options{
		BatchSizes: []int{1, 100, 1000}, Events: 200_000, SmallBatchEvents: 20_000,
		Concurrency: 8, Window: 4096, ContentType: "application/msgpack", Tracks: 2,
	}
}

const benchStore = "bench-store"

// Run performs every measurement and returns the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	url := o.NATSURL
	if url == "" {
		dir, err := natstest.TempDir()
		if err != nil {
			return nil, fmt.Errorf("running benchmark: %w", err)
		}
		defer os.RemoveAll(dir)
		srv, err := natstest.Start(dir, -1)
		if err != nil {
			return nil, fmt.Errorf("running benchmark: %w", err)
		}
		defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
		url = srv.ClientURL()
		o.CreateStreams = true
	}
	rawNC, err := nats.Connect(url, nats.Name("ingest-bench-raw"))
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS: %w", err)
	}
	defer rawNC.Close()
	rawJS, err := jetstream.New(rawNC, jetstream.WithPublishAsyncMaxPending(o.Window))
	if err != nil {
		return nil, err
	}
	if o.CreateStreams {
		if err := natstest.CreateStreams(ctx, rawJS); err != nil {
			return nil, err
		}
	}
	svc, err := startService(url, o)
	if err != nil {
		return nil, err
	}
	defer svc.close()

	report := &Report{
		Benchmark: "go-ingest end to end over HTTP vs raw jetstream async publish",
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		NATS: "in-process nats-server, file store", ContentType: o.ContentType, EventType: contract.TagTrackFrame,
		Concurrency: o.Concurrency, Window: o.Window,
		Targets: ">= 200000 events/s over HTTP at batch 1000; HTTP >= 50% of raw",
	}
	if o.NATSURL != "" {
		report.NATS = ingest.RedactURL(o.NATSURL)
	}
	run := 0
	for _, bs := range o.BatchSizes {
		n := o.Events
		if bs < 10 && o.SmallBatchEvents > 0 && n > o.SmallBatchEvents {
			n = o.SmallBatchEvents
		}
		n = (n + bs - 1) / bs * bs
		run++
		rawEvents := makeEvents(fmt.Sprintf("raw-%d-%d", run, time.Now().UnixNano()%1e9), n, o.Tracks)
		httpEvents := makeEvents(fmt.Sprintf("http-%d-%d", run, time.Now().UnixNano()%1e9), n, o.Tracks)
		payload, _ := contract.MarshalMsgpack(rawEvents[0])
		report.PayloadBytes = len(payload)

		rawSecs, err := publishRaw(ctx, rawJS, rawEvents)
		if err != nil {
			return nil, err
		}
		bodies, bodyBytes, err := makeBodies(httpEvents, bs, o.ContentType)
		if err != nil {
			return nil, err
		}
		httpSecs, err := postAll(ctx, svc.url, bodies, bs, o)
		if err != nil {
			return nil, err
		}
		r := Result{
			BatchSize: bs, Events: n, Requests: len(bodies),
			HTTPSeconds: httpSecs, HTTPEventsPerSec: float64(n) / httpSecs,
			RawSeconds: rawSecs, RawEventsPerSec: float64(n) / rawSecs,
			HTTPBytesPerEvent: bodyBytes / n,
		}
		r.RatioHTTPToRaw = r.HTTPEventsPerSec / r.RawEventsPerSec
		r.MeetsRatioTarget = r.RatioHTTPToRaw >= 0.5
		r.MeetsAbsTarget = r.HTTPEventsPerSec >= 200_000
		report.Results = append(report.Results, r)
	}
	return report, nil
}

// makeEvents returns n track frames with distinct ids (run is the edge run id).
func makeEvents(run string, n, tracks int) []contract.Event { return makeEventsFrom(run, 0, n, tracks) }

// makeEventsFrom returns n track frames with frame_seq first, first+1, ...
func makeEventsFrom(run string, first, n, tracks int) []contract.Event {
	base := contract.SampleEvents()[0].(*contract.TrackFrame)
	ts := make([]contract.Track, tracks)
	for i := range ts {
		ts[i] = base.Tracks[i%len(base.Tracks)]
		ts[i].TrackID = int64(i)
	}
	out := make([]contract.Event, n)
	for i := range out {
		f := *base
		f.StoreID = benchStore
		f.EdgeRunID = run
		f.FrameSeq = int64(first + i)
		f.TsNs = base.TsNs + int64(first+i)*100_000_000
		f.Tracks = ts
		out[i] = &f
	}
	return out
}

func publishRaw(ctx context.Context, js jetstream.JetStream, events []contract.Event) (float64, error) {
	msgs := make([]*nats.Msg, len(events))
	for i, ev := range events {
		data, err := contract.MarshalMsgpack(ev)
		if err != nil {
			return 0, err
		}
		msgs[i] = &nats.Msg{Subject: ev.Subject(), Data: data, Header: nats.Header{jetstream.MsgIDHeader: []string{ev.EventID()}}}
	}
	var failed atomic.Int64
	start := time.Now()
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		f, err := js.PublishMsgAsync(m, jetstream.WithStallWait(10*time.Second))
		if err != nil {
			return 0, fmt.Errorf("raw publishing: %w", err)
		}
		futures[i] = f
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(5 * time.Minute):
		return 0, errors.New("raw publishing: acks did not arrive")
	}
	secs := time.Since(start).Seconds()
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				failed.Add(1)
			}
		case <-f.Err():
			failed.Add(1)
		}
	}
	if n := failed.Load(); n > 0 {
		return 0, fmt.Errorf("raw publishing: %d events not stored", n)
	}
	return secs, nil
}

// makeBodies encodes the events into request bodies of bs events: a bare
// array of canonical encodings for MessagePack, {"events": [...]} for JSON.
func makeBodies(events []contract.Event, bs int, ct string) ([][]byte, int, error) {
	var bodies [][]byte
	total := 0
	for i := 0; i < len(events); i += bs {
		chunk := events[i:min(i+bs, len(events))]
		var b bytes.Buffer
		if ct == "application/json" {
			b.WriteString(`{"events":[`)
			for j, ev := range chunk {
				if j > 0 {
					b.WriteByte(',')
				}
				js, err := contract.MarshalJSON(ev)
				if err != nil {
					return nil, 0, err
				}
				b.Write(js)
			}
			b.WriteString("]}")
		} else {
			writeArrayHeader(&b, len(chunk))
			for _, ev := range chunk {
				mp, err := contract.MarshalMsgpack(ev)
				if err != nil {
					return nil, 0, err
				}
				b.Write(mp)
			}
		}
		total += b.Len()
		bodies = append(bodies, b.Bytes())
	}
	return bodies, total, nil
}

func writeArrayHeader(b *bytes.Buffer, n int) {
	switch {
	case n < 16:
		b.WriteByte(0x90 | byte(n))
	case n <= 0xffff:
		b.Write([]byte{0xdc, byte(n >> 8), byte(n)})
	default:
		b.Write([]byte{0xdd, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	}
}

const benchToken = "ingest-bench-token-0123456789abcdef"

type service struct {
	url   string
	srv   *http.Server
	pub   ingest.Publisher
	nc    *nats.Conn
	dir   string
	close func()
}

// startService runs the real go-ingest handler on a loopback port with its
// own NATS connection, as cmd/go-ingest does.
func startService(url string, o Options) (*service, error) {
	nc, err := nats.Connect(url, nats.Name("ingest-bench-service"), nats.ReconnectBufSize(-1))
	if err != nil {
		return nil, fmt.Errorf("connecting service to NATS: %w", err)
	}
	pub, err := ingest.NewPublisher(nc, ingest.PublisherConfig{Window: o.Window, AckTimeout: 30 * time.Second}, nil)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ingest-bench-")
	if err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens.json")
	doc := `{"tokens":[{"sha256":"` + ingest.HashToken(benchToken) + `","stores":["` + benchStore + `"]}]}`
	if err := os.WriteFile(tokens, []byte(doc), 0o600); err != nil {
		return nil, err
	}
	auth, err := ingest.LoadTokenFile(tokens)
	if err != nil {
		return nil, err
	}
	h := ingest.NewHandler(ingest.ServerConfig{BodyLimit: 256 << 20, PublishTimeout: time.Minute}, auth, pub, nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	s := &service{url: "http://" + ln.Addr().String(), srv: srv, pub: pub, nc: nc, dir: dir}
	s.close = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = pub.Close(ctx)
		os.RemoveAll(dir)
	}
	return s, nil
}

func postAll(ctx context.Context, base string, bodies [][]byte, bs int, o Options) (float64, error) {
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: o.Concurrency, MaxConnsPerHost: o.Concurrency, DisableCompression: true,
	}}
	defer client.CloseIdleConnections()
	url := base + "/v1/stores/" + benchStore + "/events"
	want := []byte(`{"stored":` + strconv.Itoa(bs) + `,`)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 256<<10)
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", o.ContentType)
				req.Header.Set("Authorization", "Bearer "+benchToken)
				resp, err := client.Do(req)
				if err == nil {
					b := bytes.NewBuffer(buf[:0])
					_, err = io.Copy(b, resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != http.StatusOK || !bytes.HasPrefix(b.Bytes(), want[:min(len(want), len(b.Bytes()))]) || b.Len() < len(want)) {
						err = fmt.Errorf("request %d: status %d: %.200s", i, resp.StatusCode, b.String())
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, fmt.Errorf("posting batches: %w", firstErr)
	}
	return time.Since(start).Seconds(), nil
}
