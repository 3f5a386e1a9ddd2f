package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/footfall/footfall/go-ingest/internal/natstest"
)

// BenchmarkIngest posts track_frame batches (MessagePack) to the real
// handler over loopback HTTP against an in-process JetStream file store, one
// batch per op from parallel clients, and reports events/s. Compare with
// BenchmarkRawPublish, which publishes the same payloads asynchronously:
//
//	go test -run='^$' -bench=. -benchtime=200x ./internal/bench
func BenchmarkIngest(b *testing.B) {
	url, _ := startJetStream(b)
	o := Defaults()
	svc, err := startService(url, o)
	if err != nil {
		b.Fatal(err)
	}
	defer svc.close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, bs := range []int{1, 100, 1000} {
		b.Run("batch="+strconv.Itoa(bs), func(b *testing.B) {
			var seq atomic.Int64
			run := fmt.Sprintf("b%d-%d", bs, time.Now().UnixNano()%1e9)
			b.SetParallelism(4)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					first := int(seq.Add(int64(bs))) - bs
					events := makeEventsFrom(run, first, bs, o.Tracks)
					bodies, _, err := makeBodies(events, bs, o.ContentType)
					if err != nil {
						b.Error(err)
						return
					}
					req, _ := http.NewRequest(http.MethodPost, svc.url+"/v1/stores/"+benchStore+"/events", bytes.NewReader(bodies[0]))
					req.Header.Set("Content-Type", o.ContentType)
					req.Header.Set("Authorization", "Bearer "+benchToken)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(seq.Load())/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkRawPublish publishes the same canonical payloads with jetstream
// async publish straight from Go: the peer of BenchmarkIngest.
func BenchmarkRawPublish(b *testing.B) {
	_, js := startJetStream(b, jetstream.WithPublishAsyncMaxPending(Defaults().Window))
	events := makeEvents(fmt.Sprintf("raw-%d", time.Now().UnixNano()%1e9), b.N, Defaults().Tracks)
	b.ResetTimer()
	secs, err := publishRaw(context.Background(), js, events)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/secs, "events/s")
}

// startJetStream starts an in-process server with the footfall streams and
// returns its URL and a JetStream context (opts applied) on a connection
// that closes at cleanup.
func startJetStream(b *testing.B, opts ...jetstream.JetStreamOpt) (string, jetstream.JetStream) {
	b.Helper()
	srv := natstest.StartT(b)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, _ := jetstream.New(nc, opts...)
	if err := natstest.CreateStreams(context.Background(), js); err != nil {
		b.Fatal(err)
	}
	return srv.ClientURL(), js
}
